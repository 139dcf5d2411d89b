// The --adapter / --backend options every GPU command takes, and opening the device from them.
import { Option, type Command } from 'commander';
import { openNodeDevice } from '../runtime/node.ts';
import type { EgoxDevice } from '../runtime/device.ts';
import type { GpuOptions } from './run-command.ts';

export function adapterOption(): Option {
  return new Option('--adapter <name>', 'adapter name as Dawn lists it (env EGOX_ADAPTER)');
}

export function backendOption(): Option {
  return new Option('--backend <name>', 'vulkan | metal | d3d12 | ... (env EGOX_BACKEND)');
}

export function openCliDevice(o: GpuOptions): Promise<EgoxDevice> {
  return openNodeDevice({ adapter: o.adapter, backend: o.backend });
}

/**
 * The options a one-network `egox forward` command shares: weight storage dtype, GPU memory
 * budget, adapter, backend, --verbose.
 */
export function networkOptions(cmd: Command): Command {
  return cmd
    .option('--weight-dtype <dtype>', 'weight storage on the GPU: f32 | bf16 | f16', 'f32')
    .option('--gpu-memory <bytes>', 'GPU memory budget (weights stream past it)')
    .addOption(adapterOption())
    .addOption(backendOption())
    .option('--verbose', 'print stacks on errors');
}
