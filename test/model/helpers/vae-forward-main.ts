// A stand-alone `egox`-like entry with only `forward vae-encode | vae-decode`, so the VAE
// commands can be tested as a process (exit codes, files) before main.ts wires `forward`.
import { Command } from 'commander';
import { registerVaeForward } from '../../../src/cli/forward-vae.ts';

const program = new Command().name('egox');
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
registerVaeForward(program.command('forward').description('run one network on tensors from a file'));
await program.parseAsync(process.argv);
