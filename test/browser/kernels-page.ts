// Runs inside Chromium: the kernel checks of splat-cases.ts and parity-cases.ts on a device
// opened from navigator.gpu through the library's browser entry.
import { EgoxDevice } from '../../src/browser.ts';
import { SPLAT_CASES } from '../kernels/render/splat-cases.ts';
import { PARITY_CASES } from '../kernels/parity-cases.ts';
import type { Check } from '../helpers/checks.ts';

const cases = [...SPLAT_CASES, ...PARITY_CASES];
let device: Promise<EgoxDevice> | undefined;

async function openDevice(): Promise<EgoxDevice> {
  const gpu = (globalThis as unknown as { navigator: { gpu?: GPU } }).navigator.gpu;
  if (!gpu) throw new Error('navigator.gpu is missing: start Chromium with --enable-unsafe-webgpu and serve the page from 127.0.0.1');
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() gave no adapter');
  return EgoxDevice.fromAdapter(adapter);
}

async function runCase(name: string): Promise<{ adapter: string; checks: Check[] }> {
  const c = cases.find((k) => k.name === name);
  if (!c) throw new Error(`no kernel case named ${name}`);
  const dev = await (device ??= openDevice());
  return { adapter: `${dev.adapter.vendor} ${dev.adapter.architecture}`, checks: await c.run(dev) };
}

Object.assign(globalThis, { egoxRunCase: runCase });
