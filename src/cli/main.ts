// The egox command line. Each command lives in its own module; this file only wires them.
import { Command } from 'commander';
import { registerInfoCommand } from './info.ts';
import { registerInspectCommand } from './inspect.ts';
import { registerPlanCommand } from './plan.ts';
import { registerForwardCommand } from './forward.ts';
import { registerPriorCommand } from './prior.ts';
import { registerTrajectoryCommand } from './trajectory.ts';
import { registerBenchCommand } from './bench.ts';
import { registerGenerateCommand } from './generate.ts';
import { registerDemoCommand } from './demo.ts';
import { registerPrepareCommand } from './prepare.ts';

const program = new Command();
program
  .name('egox')
  .description('EgoX exocentric-to-egocentric video generation on WebGPU')
  .version('0.1.0')
  .showHelpAfterError('(egox --help lists the commands)');

registerInfoCommand(program);
registerInspectCommand(program);
registerPlanCommand(program);
registerForwardCommand(program);
registerPrepareCommand(program);
registerPriorCommand(program);
registerTrajectoryCommand(program);
registerGenerateCommand(program);
registerDemoCommand(program);
registerBenchCommand(program);

program.exitOverride((err) => {
  // commander's own usage errors (unknown option, missing argument) are bad input: exit 2.
  process.exit(err.exitCode === 0 ? 0 : 2);
});

await program.parseAsync(process.argv);
