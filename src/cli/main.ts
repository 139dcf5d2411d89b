// The egox command line. Each command lives in its own module; this file only wires them.
import { Command, CommanderError } from 'commander';
import { registerInfoCommand } from './info.ts';
import { registerInspectCommand } from './inspect.ts';
import { registerPlanCommand } from './plan.ts';
import { registerForwardCommand } from './forward.ts';
import { registerPriorCommand } from './prior.ts';
import { registerTrajectoryCommand } from './trajectory.ts';
import { registerBenchCommand } from './bench.ts';
import { registerGenerateCommand } from './generate.ts';
import { registerDemoCommand } from './demo.ts';
import { registerStudioCommand } from './studio.ts';
import { terminalLine } from '../runtime/errors.ts';
import { reportError } from './run-command.ts';
import { registerPrepareCommand } from './prepare.ts';

const program = new Command();
program
  .name('egox')
  .description('EgoX exocentric-to-egocentric video generation on WebGPU')
  .version('0.1.0');

// Before any subcommand is added: commander copies these settings into each subcommand when it
// is created, so `egox generate --bogus` is the same one line and exit 2 as `egox --bogus`.
program.configureOutput({
  outputError: (message, write) => write(`${terminalLine(`egox: ${message.trim().replace(/^error: /, '')} (egox --help lists the commands and options)`)}\n`),
});
program.exitOverride((err: CommanderError) => {
  // Help and version exit 0; commander's own usage errors (unknown option, missing argument) are bad input: exit 2.
  process.exit(err.exitCode === 0 ? 0 : 2);
});

registerInfoCommand(program);
registerInspectCommand(program);
registerPlanCommand(program);
registerForwardCommand(program);
registerPrepareCommand(program);
registerPriorCommand(program);
registerTrajectoryCommand(program);
registerGenerateCommand(program);
registerDemoCommand(program);
registerStudioCommand(program);
registerBenchCommand(program);

// A fault outside a command body (a rejected promise no one awaited) is still one line, exit 1.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (e: unknown) => process.exit(reportError(e, process.argv.includes('--verbose'))));
}

await program.parseAsync(process.argv);
