// Dawn's null backend runs no shaders but has Tint and offers every feature, including
// chromium-experimental-subgroup-matrix, which lavapipe lacks. Tests use it to check that
// WGSL for such features parses and type-checks (createShaderModule + getCompilationInfo),
// which is as far as this machine can take code that needs tensor-core hardware.

import { requestNodeAdapter } from '../../src/runtime/node.ts';
import { assembleWgsl, type KernelProgram } from '../../src/runtime/program.ts';

const FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix' as GPUFeatureName];

let nullDevice: Promise<GPUDevice> | undefined;

export function openNullBackendDevice(): Promise<GPUDevice> {
  nullDevice ??= requestNodeAdapter({ backend: 'null' }).then((a) => a.requestDevice({ requiredFeatures: FEATURES }));
  return nullDevice;
}

export interface WgslDiagnostics {
  errors: string[];
  warnings: string[];
}

/** Tint's diagnostics for a kernel program's full WGSL (as the runtime assembles it). */
export async function tintDiagnostics(program: KernelProgram): Promise<WgslDiagnostics> {
  const device = await openNullBackendDevice();
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: program.key, code: assembleWgsl(program) });
  const info = await module.getCompilationInfo();
  await device.popErrorScope();
  const fmt = (m: GPUCompilationMessage) => `${m.lineNum}:${m.linePos} ${m.message}`;
  return {
    errors: info.messages.filter((m) => m.type === 'error').map(fmt),
    warnings: info.messages.filter((m) => m.type === 'warning').map(fmt),
  };
}

export async function closeNullBackendDevice(): Promise<void> {
  if (nullDevice) (await nullDevice).destroy();
  nullDevice = undefined;
}
