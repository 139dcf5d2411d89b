// The Node side of the runtime: creates Dawn's GPU object from the `webgpu` package and
// picks an adapter. Everything else takes a GPUAdapter/GPUDevice and also runs in a browser.

import { create, globals } from 'webgpu';
import { EnvironmentError } from './errors.ts';
import { EgoxDevice, type DeviceOptions } from './device.ts';

export type Backend = 'vulkan' | 'metal' | 'd3d12' | 'd3d11' | 'opengl' | 'opengles' | 'null';
const BACKENDS: readonly Backend[] = ['vulkan', 'metal', 'd3d12', 'd3d11', 'opengl', 'opengles', 'null'];

export interface NodeDeviceOptions extends DeviceOptions {
  /** Adapter name as Dawn lists it (EGOX_ADAPTER). */
  adapter?: string;
  /** Backend (EGOX_BACKEND). */
  backend?: string;
  powerPreference?: GPUPowerPreference;
}

let globalsInstalled = false;
/**
 * Dawn's GPU objects by flag set. They must stay referenced while any device lives: if the
 * instance is garbage-collected, Dawn's event processing dereferences it and the process
 * crashes (SIGSEGV in CallbackTaskManager::Flush).
 */
const liveInstances = new Map<string, GPU>();

/** Installs the WebGPU constants (GPUBufferUsage, ...) that the runtime code refers to. */
export function installWebGpuGlobals(): void {
  if (globalsInstalled) return;
  Object.assign(globalThis, globals);
  globalsInstalled = true;
}

const NO_ADAPTER_HELP =
  'no WebGPU adapter found: install a GPU driver with Vulkan, Metal or D3D12 support, or on Linux without a GPU ' +
  "Mesa's lavapipe >= 23 (Debian 12: apt-get install -t bookworm-backports mesa-vulkan-drivers)";

export async function requestNodeAdapter(options: NodeDeviceOptions = {}): Promise<GPUAdapter> {
  installWebGpuGlobals();
  if (typeof process !== 'undefined' && !process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
  const backend = options.backend ?? process.env.EGOX_BACKEND;
  const adapterName = options.adapter ?? process.env.EGOX_ADAPTER;
  // Dawn lists experimental features (subgroup matrices, the tensor-core path of the GEMM)
  // only with unsafe APIs allowed; egox requests them only when the adapter offers them.
  const flags: string[] = ['enable-dawn-features=allow_unsafe_apis'];
  if (backend) {
    if (!BACKENDS.includes(backend as Backend)) {
      throw new EnvironmentError(`unknown backend '${backend}': use one of ${BACKENDS.join(', ')}`);
    }
    flags.push(`backend=${backend}`);
  }
  if (adapterName) flags.push(`adapter=${adapterName}`);
  let adapter: GPUAdapter | null = null;
  try {
    const id = flags.join(' ');
    let gpu = liveInstances.get(id);
    if (!gpu) liveInstances.set(id, (gpu = create(flags) as GPU));
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch (e) {
    const msg = String((e as Error).message ?? e);
    if (adapterName || backend) {
      const listed = msg.split('\n').filter((l) => l.includes('backend:')).map((l) => l.trim().replace(/^\* /, ''));
      throw new EnvironmentError(
        `no adapter matches ${adapterName ? `'${adapterName}'` : ''}${backend ? ` on backend ${backend}` : ''}; available: ${listed.join('; ') || 'none'}`,
      );
    }
    throw new EnvironmentError(NO_ADAPTER_HELP);
  }
  if (!adapter) throw new EnvironmentError(NO_ADAPTER_HELP);
  return adapter;
}

/** Opens the GPU for a Node program. Call `destroy()` when done so the process can exit. */
export async function openNodeDevice(options: NodeDeviceOptions = {}): Promise<EgoxDevice> {
  return EgoxDevice.fromAdapter(await requestNodeAdapter(options), { ...deviceOptionsFromEnv(), ...options });
}

/**
 * The device options the environment sets: EGOX_DEBUG=sync submits each kernel alone,
 * EGOX_SUBGROUP_MATRICES=off keeps the kernels off tensor cores. Read here, on the Node side,
 * so nothing below the runtime looks at `process.env`.
 */
export function deviceOptionsFromEnv(env: Record<string, string | undefined> = process.env): DeviceOptions {
  const o: DeviceOptions = {};
  if (env.EGOX_DEBUG === 'sync') o.debugSync = true;
  if (env.EGOX_SUBGROUP_MATRICES === 'off') o.subgroupMatrices = 'off';
  return o;
}
