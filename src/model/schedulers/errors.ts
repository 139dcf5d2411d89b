/** A sampler option given by the user is unusable (steps, shift, variant, sampler name, guidance). */
import { InputError } from '../../runtime/errors.ts';
export class SchedulerOptionError extends InputError {
  /** The option concerned, e.g. 'steps'. */
  readonly option: string;

  constructor(option: string, problem: string) {
    super(`sampler option '${option}': ${problem}`);
    this.option = option;
  }
}
