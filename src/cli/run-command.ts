// Runs a command body with egox's exit-code contract: 0 ok; 2 bad input or environment
// (one line on stderr, no stack unless --verbose); 1 internal fault. Devices opened by the
// body are destroyed and the process exits explicitly (Dawn would keep it alive).

import type { EgoxDevice } from '../runtime/device.ts';
import { cliMessage } from './error-wording.ts';
import { terminalLine } from '../runtime/errors.ts';

export interface CommandContext {
  verbose: boolean;
  /** Registers a device to destroy when the command ends. */
  own(dev: EgoxDevice): EgoxDevice;
}

export async function runCommand(verbose: boolean, body: (ctx: CommandContext) => Promise<void>): Promise<never> {
  const devices: EgoxDevice[] = [];
  let code = 0;
  try {
    await body({ verbose, own: (d) => (devices.push(d), d) });
  } catch (e) {
    code = reportError(e, verbose);
  }
  for (const d of devices) {
    try {
      d.destroy();
    } catch {
      /* already gone */
    }
  }
  process.exit(code);
}

/** Prints the one line for `e` (sanitised, capped) and returns its exit code: 2 input, 1 internal. */
export function reportError(e: unknown, verbose: boolean): number {
  const err = e instanceof Error ? e : new Error(String(e));
  const exitCode = (err as { exitCode?: number }).exitCode === 2 ? 2 : 1;
  const text = cliMessage(err);
  process.stderr.write(`${terminalLine(exitCode === 2 ? `egox: ${text}` : `egox: internal error: ${text}`)}\n`);
  if (verbose && err.stack) process.stderr.write(err.stack + '\n');
  else if (exitCode === 1) process.stderr.write('(run with --verbose for the stack)\n');
  return exitCode;
}

/** Options every GPU command takes. */
export interface GpuOptions {
  adapter?: string;
  backend?: string;
  verbose?: boolean;
}
