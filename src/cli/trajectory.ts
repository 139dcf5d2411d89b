// `egox trajectory`: ego head poses from a few keyframe clicks, written into the take's
// meta.json (timestamped backup beside it), optionally rendering the prior from them at once.
import * as path from 'node:path';
import type { Command } from 'commander';
import { loadEgoxTake } from '../io/meta.ts';
import { parseEgoCalibration } from '../recon/cameras.ts';
import { DEFAULT_HEAD_RADIUS, TrajectoryKeyError } from '../recon/trajectory.ts';
import { parseTrajectoryKey } from '../recon/trajectory-keys.ts';
import { saveTrajectory, trajectoryForTake } from '../pipeline/trajectory.ts';
import { norm, type Vec3 } from '../recon/vec3.ts';
import { renderPrior, writePrior } from '../pipeline/prior.ts';
import { runCommand, type GpuOptions } from './run-command.ts';
import { openCliDevice, withDeviceOptions } from './device-options.ts';

interface TrajectoryCliOptions extends GpuOptions {
  meta: string;
  take?: string;
  key: string[];
  headRadius?: string;
  eyeOffset?: string;
  renderPrior?: boolean;
  out?: string;
  egoCalibration?: string;
  up?: string;
}

function metres(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const x = Number(text);
  if (!(text.trim() !== '' && Number.isFinite(x) && x >= 0 && x <= 1)) {
    throw new TrajectoryKeyError(`${option} ${text}: give a distance in metres between 0 and 1 (e.g. 0.1)`);
  }
  return x;
}

function parseUp(text: string | undefined): Vec3 | undefined {
  if (text === undefined) return undefined;
  const v = text.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
  if (v.length !== 3 || !v.every(Number.isFinite) || norm(v as Vec3) === 0) {
    throw new TrajectoryKeyError(`--up ${text}: give the world's up direction as three numbers X,Y,Z, not all zero (e.g. 0,0,1)`);
  }
  return v as Vec3;
}

export function registerTrajectoryCommand(program: Command): void {
  withDeviceOptions(program.command('trajectory'))
    .description("ego head poses from a few keyframe clicks, written into the take's meta.json (ego_extrinsics)")
    .requiredOption('--meta <file>', 'EgoX meta.json ({"test_datasets": [...]}); a timestamped backup is kept beside it')
    .option('--take <name>', 'take (the folder holding exo_path); needed when the meta has several')
    .option('--key <FRAME:U,V[:LU,LV]>', 'a keyframe: exo pixel of the head (U column, V row) and optionally of what the person looks at; repeat for more', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--head-radius <m>', `visible head surface to head centre, metres (default ${DEFAULT_HEAD_RADIUS})`)
    .option('--eye-offset <m>', 'head centre to the Aria camera along the gaze, metres (default: the head radius)')
    .option('--up <x,y,z>', "the world's up direction when known (Ego-Exo4D worlds: 0,0,1); default: estimated from the ground plane")
    .option('--render-prior', 'render ego_Prior.mp4 from the new poses')
    .option('--out <dir>', 'folder for ego_Prior.mp4 with --render-prior (default: the folder of the take\'s ego_prior_path)')
    .option('--ego-calibration <f,cx,cy[,...]>', 'ego fisheye for --render-prior, as for egox prior')
    .action((opts: TrajectoryCliOptions) =>
      runCommand(Boolean(opts.verbose), async (ctx) => {
        // Everything is checked before meta.json is touched: a bad key writes nothing.
        const keys = opts.key.map(parseTrajectoryKey);
        const headRadius = metres('--head-radius', opts.headRadius);
        const eyeOffset = metres('--eye-offset', opts.eyeOffset);
        const up = parseUp(opts.up);
        const egoCalibration = opts.egoCalibration !== undefined ? parseEgoCalibration(opts.egoCalibration) : undefined;
        // A take may have no poses yet: that is what this command is for.
        const take = loadEgoxTake(opts.meta, opts.take, { requiredEgoPoses: 0 });
        const traj = await trajectoryForTake(take, keys, {
          ...(headRadius !== undefined ? { headRadius } : {}),
          ...(eyeOffset !== undefined ? { eyeOffset } : {}),
          ...(up ? { up } : {}),
        });
        const saved = saveTrajectory(take, traj);
        const from = { 'ground-plane': `the ground plane (${traj.ground?.inliers} points)`, 'exo-camera': "the exo camera's (no ground plane found)", given: '--up' }[traj.upSource];
        const lines = [
          `take          ${take.name}`,
          `keys          ${keys.length} (gaze: ${traj.keyGaze.join(', ')})`,
          `up            (${traj.up.map((x) => x.toFixed(3)).join(', ')}) from ${from}`,
          `poses         ${traj.poses.length} written to ${saved.metaPath}`,
          `backup        ${saved.backupPath}`,
        ];
        process.stdout.write(lines.join('\n') + '\n');
        if (!opts.renderPrior) return;
        const dev = ctx.own(await openCliDevice(opts));
        const updated = loadEgoxTake(opts.meta, opts.take);
        const result = await renderPrior(dev, updated, egoCalibration ? { egoCalibration } : {});
        const written = await writePrior(opts.out ?? path.dirname(updated.egoPriorPath), result);
        process.stdout.write(`prior         ${written[written.length - 1]} (${result.frames.length} frames, ${result.msPerFrame.toFixed(0)} ms/frame)\n`);
      }),
    );
}
