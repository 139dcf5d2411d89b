// `egox forward <network>`: one network on tensors from a file.
import type { Command } from 'commander';
import { registerDitForward } from './forward-dit.ts';
import { registerVaeForward } from './forward-vae.ts';

export function registerForwardCommand(program: Command): Command {
  const forward = program.command('forward').description('run one network on tensors from a safetensors file (for checking against a reference)');
  registerDitForward(forward);
  registerVaeForward(forward);
  return forward;
}
