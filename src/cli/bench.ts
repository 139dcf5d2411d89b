// `egox bench`: the kernel benchmarks of bench/ (ratios to tfjs-webgpu and numpy in the same
// run); `--tune` times the kernel variants first and stores the winners per adapter.
import type { Command } from 'commander';
import { runCommand } from './run-command.ts';

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('kernel benchmarks against peers on the same adapter (see bench/RESULTS.md)')
    .option('--only <kernels>', 'comma-separated kernel names')
    .option('--quick', 'fewer repeats')
    .option('--tune', 'time kernel variants first and cache the winners (~/.cache/egox)')
    .option('--no-peers', 'skip tfjs-webgpu and numpy')
    .option('--json', 'one JSON array of {kernel, shape, ms, gflops, gbps, peer, peerMs, ratio, ratioIqr, cpuRatio?, cpuRatioIqr?, rounds, note?} (medians of interleaved rounds)')
    .option('--markdown', 'the table as markdown (bench/RESULTS.md)')
    .option('--verbose', 'print stacks on errors')
    .action((o: { only?: string; quick?: boolean; tune?: boolean; peers: boolean; json?: boolean; markdown?: boolean; verbose?: boolean }) =>
      runCommand(Boolean(o.verbose), async () => {
        // bench/ is dev tooling (its peers are devDependencies): load it only when asked.
        const { runBench, formatMarkdown, formatTable } = await import('../../bench/run.ts');
        const rows = await runBench({ only: o.only?.split(','), quick: o.quick, tune: o.tune, noPeers: !o.peers });
        process.stdout.write(`${o.json ? JSON.stringify(rows) : o.markdown ? formatMarkdown(rows) : formatTable(rows)}\n`);
      }),
    );
}
