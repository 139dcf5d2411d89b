// `egox info`: the adapter, its features and the limits egox depends on.
import type { Command } from 'commander';
import type { SubgroupMatrixConfig } from '../runtime/device.ts';
import { runCommand, type GpuOptions } from './run-command.ts';
import { openCliDevice, withDeviceOptions } from './device-options.ts';

export function registerInfoCommand(program: Command): void {
  withDeviceOptions(program.command('info'))
    .description('show the GPU adapter, its features and limits')
    .option('--json', 'print one JSON object')
    .action((opts: GpuOptions & { json?: boolean }) =>
      runCommand(Boolean(opts.verbose), async (ctx) => {
        const dev = ctx.own(await openCliDevice(opts));
        const info = {
          adapter: dev.adapter,
          backend: opts.backend ?? process.env.EGOX_BACKEND ?? 'default',
          features: [...dev.features],
          limits: dev.limits,
        };
        if (opts.json) {
          process.stdout.write(JSON.stringify(info, null, 2) + '\n');
          return;
        }
        const a = dev.adapter;
        const lines = [
          `adapter       ${a.description || a.device} (${a.vendor}, ${a.architecture})${a.isFallbackAdapter ? ' [software fallback]' : ''}`,
          `backend       ${info.backend}`,
          `features      ${info.features.join(', ') || 'none of shader-f16, subgroups, timestamp-query'}`,
          `subgroups     ${a.subgroupMinSize ?? '?'}..${a.subgroupMaxSize ?? '?'} lanes`,
          `matrices      ${formatMatrixConfigs(a.subgroupMatrixConfigs ?? [])}`,
          ...Object.entries(dev.limits).map(([k, v]) => `${k.padEnd(36)} ${formatLimit(k, v)}`),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );
}

/** "f16 16x16x16 -> f32, ..." (M x N x K, as Dawn lists them), or why there are none. */
function formatMatrixConfigs(configs: readonly SubgroupMatrixConfig[]): string {
  if (configs.length === 0) return 'none offered by this adapter (the tensor-core kernels stay off)';
  return configs.map((c) => `${c.componentType} ${c.M}x${c.N}x${c.K} -> ${c.resultComponentType}`).join(', ');
}

function formatLimit(name: string, v: number): string {
  if (/Size$/.test(name) && v >= 1024 * 1024) return `${v} (${(v / 1024 / 1024).toFixed(0)} MiB)`;
  return String(v);
}
