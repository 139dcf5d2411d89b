// `egox inspect PATH`: the tensors of a .safetensors file, an index.json, a folder, a .pt/.pth file or a .gguf file.
import type { Command } from 'commander';
import { formatInspectReport, inspectCheckpoint } from '../io/inspect.ts';
import { runCommand } from './run-command.ts';

export function registerInspectCommand(program: Command): void {
  program
    .command('inspect <path>')
    .description('list the tensors of a safetensors file, a sharded index.json, a folder, a PyTorch .pt/.pth checkpoint or a GGUF file')
    .option('--json', 'print one JSON object')
    .option('--verbose', 'print stacks on errors')
    .action((path: string, opts: { json?: boolean; verbose?: boolean }) =>
      runCommand(Boolean(opts.verbose), async () => {
        const report = await inspectCheckpoint(path);
        process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatInspectReport(report) + '\n');
      }),
    );
}
