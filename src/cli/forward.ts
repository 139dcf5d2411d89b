// `egox forward <network>`: one network on tensors from a file.
import type { Command } from 'commander';
import { registerDitForward } from './forward-dit.ts';
import { registerVaeForward } from './forward-vae.ts';
import { registerUmt5Forward } from './forward-umt5.ts';
import { registerClipForward } from './forward-clip.ts';
import { registerMogeForward } from './forward-moge.ts';

export function registerForwardCommand(program: Command): Command {
  const forward = program.command('forward').description('run one network on tensors from a safetensors file (for checking against a reference)');
  registerDitForward(forward);
  registerVaeForward(forward);
  registerUmt5Forward(forward);
  registerClipForward(forward);
  registerMogeForward(forward);
  return forward;
}
