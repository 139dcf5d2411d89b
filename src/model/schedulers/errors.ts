/**
 * A sampler option given by the user is unusable (steps, shift, variant, sampler name, guidance).
 * exitCode 2 tells the CLI to print the one-line message and exit 2 without a stack.
 */
export class SchedulerOptionError extends Error {
  readonly exitCode = 2;
  /** The option concerned, e.g. 'steps'. */
  readonly option: string;

  constructor(option: string, problem: string) {
    super(`sampler option '${option}': ${problem}`);
    this.name = 'SchedulerOptionError';
    this.option = option;
  }
}
