// Lower layers throw typed errors that carry their numbers and never name a command-line
// option; this is where the CLI turns them into words about its own options.
import { GpuMemoryBudgetError, gib } from '../graph/plan.ts';
import { RunSizeError } from '../model/wan/plan-run.ts';
import { MaskFolderError } from '../pipeline/prior.ts';
import { PriorFramesError, priorFramesProblem } from '../recon/prior.ts';

/** The one line the CLI prints for an error (its first line, in the CLI's own words). */
export function cliMessage(err: Error): string {
  if (err instanceof GpuMemoryBudgetError) {
    return `the run needs ${gib(err.neededBytes)} of GPU memory even with weights streamed (activations ${gib(err.activationBytes)}, weights ${gib(err.weightBytes)}); budget ${gib(err.budgetBytes)}: raise --gpu-memory or use a smaller input`;
  }
  if (err instanceof RunSizeError) return `--${err.setting} ${err.value}: ${err.problem}`;
  if (err instanceof MaskFolderError) return `--masks ${err.folder}: ${err.problem}`;
  if (err instanceof PriorFramesError) return `--frames ${err.frames}: ${priorFramesProblem(err.clipFrames)}`;
  // A library's multi-line message keeps its first line; the reporter escapes and caps it.
  return (err.message || err.name).split('\n')[0]!;
}
