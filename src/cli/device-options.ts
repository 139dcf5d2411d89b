// The options GPU commands share, added by one builder each, and what they turn into:
// --adapter / --backend / --verbose for every command that opens a device, and
// --weight-dtype / --gpu-memory for every command that loads a network.
import { Option, type Command } from 'commander';
import { openNodeDevice } from '../runtime/node.ts';
import type { EgoxDevice } from '../runtime/device.ts';
import type { FloatDType } from '../runtime/dtype.ts';
import type { NetworkLoadOptions } from '../model/load-options.ts';
import { parseBytes, parseWeightDtype } from './parse.ts';
import type { GpuOptions } from './run-command.ts';

/** Adds --adapter, --backend and --verbose. */
export function withDeviceOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--adapter <name>', 'adapter name as Dawn lists it (env EGOX_ADAPTER)'))
    .addOption(new Option('--backend <name>', 'vulkan | metal | d3d12 | ... (env EGOX_BACKEND)'))
    .option('--verbose', 'print stacks on errors');
}

/** What --weight-dtype and --gpu-memory parse to. */
export interface NetworkCliOptions {
  weightDtype: string;
  gpuMemory?: string;
}

/** Adds --weight-dtype (with the command's default) and --gpu-memory. */
export function withNetworkOptions(cmd: Command, defaultWeightDtype: FloatDType): Command {
  return cmd
    .option('--weight-dtype <dtype>', 'weight storage on the GPU: f32 | bf16 | f16', defaultWeightDtype)
    .option('--gpu-memory <bytes>', 'GPU memory budget, e.g. 24GiB: weights are streamed past it; networks run one after another, each with the whole budget');
}

export function networkLoadOptions(o: NetworkCliOptions): NetworkLoadOptions {
  return {
    weightDtype: parseWeightDtype(o.weightDtype, '--weight-dtype'),
    gpuMemoryBytes: o.gpuMemory === undefined ? undefined : parseBytes(o.gpuMemory, '--gpu-memory'),
  };
}

export function openCliDevice(o: GpuOptions): Promise<EgoxDevice> {
  return openNodeDevice({ adapter: o.adapter, backend: o.backend });
}
