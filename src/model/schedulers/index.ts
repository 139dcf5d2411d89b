/** Flow-matching samplers of egox: sigma schedules, UniPC, Euler, guidance helpers. */
import { SchedulerOptionError } from './errors.ts';
import { EulerScheduler } from './euler.ts';
import type { FlowScheduler } from './scheduler.ts';
import { UniPCScheduler, type UniPCOptions } from './unipc.ts';

export { SchedulerOptionError } from './errors.ts';
export {
  flowSigmas,
  linspace,
  shiftSigma,
  checkScheduleOptions,
  NUM_TRAIN_TIMESTEPS,
  SIGMA_VARIANTS,
  type FlowSchedule,
  type FlowScheduleOptions,
  type SigmaVariant,
} from './sigmas.ts';
export type { FlowScheduler, SchedulerOptions } from './scheduler.ts';
export { UniPCScheduler, type UniPCOptions } from './unipc.ts';
export { EulerScheduler } from './euler.ts';
export { applyCfg, zeroExoColumns } from './guidance.ts';

export type SchedulerName = 'unipc' | 'euler';
export const SCHEDULER_NAMES: readonly SchedulerName[] = ['unipc', 'euler'];

/** A sampler by name (the CLI's --sampler); UniPC is what EgoX uses. */
export function createScheduler(name: SchedulerName, opts: UniPCOptions): FlowScheduler {
  switch (name) {
    case 'unipc':
      return new UniPCScheduler(opts);
    case 'euler':
      return new EulerScheduler(opts);
    default:
      throw new SchedulerOptionError('sampler', `got '${String(name)}'; use one of ${SCHEDULER_NAMES.join(', ')}`);
  }
}
