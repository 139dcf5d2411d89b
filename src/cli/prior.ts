// `egox prior`: render one take's ego prior (point cloud splatted from every ego pose) to
// <out>/ego_Prior.mp4 (448x448, 30 fps) and optionally PNGs, reporting the time per frame.
import type { Command } from 'commander';
import { loadEgoxTake } from '../io/meta.ts';
import { parseEgoCalibration } from '../recon/cameras.ts';
import { priorOutputs, renderPrior, writePrior, PRIOR_FRAMES, type DynamicSource } from '../pipeline/prior.ts';
import { OutputStage } from '../pipeline/staging.ts';
import { runCommand, type GpuOptions } from './run-command.ts';
import { openCliDevice, withDeviceOptions } from './device-options.ts';
import { InputError } from '../runtime/errors.ts';

interface PriorCliOptions extends GpuOptions {
  meta: string;
  take?: string;
  out: string;
  egoCalibration?: string;
  frames?: string;
  masks?: string;
  dynamic: string;
  dynamicPoints?: boolean;
  zbuffer?: boolean;
  png?: boolean;
}

class PriorOptionError extends InputError {}

function parseFrames(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new PriorOptionError(`--frames ${text}: must be a whole number >= 1 (at most ${PRIOR_FRAMES})`);
  return n;
}

function parseDynamic(text: string): DynamicSource {
  if (text !== 'auto' && text !== 'none') throw new PriorOptionError(`--dynamic ${text}: use 'auto' (estimate moving pixels from the clip) or 'none'`);
  return text;
}

export function registerPriorCommand(program: Command): void {
  withDeviceOptions(program.command('prior'))
    .description("render a take's ego prior (the exo point cloud seen from every ego pose) to ego_Prior.mp4")
    .requiredOption('--meta <file>', 'EgoX meta.json ({"test_datasets": [...]})')
    .option('--take <name>', 'take to render (the folder holding exo_path); needed when the meta has several')
    .requiredOption('--out <dir>', 'output folder for ego_Prior.mp4 (and png/)')
    .option('--ego-calibration <f,cx,cy[,k1..k6,p1,p2,s1..s4]>', 'ego fisheye in 448-px units; 3 numbers keep the default Aria distortion (shared Ego-Exo4D priors: 216,226,225)')
    .option('--frames <n>', `render only the first n frames (default ${PRIOR_FRAMES})`)
    .option('--masks <dir>', 'per-frame instance-mask PNGs (0 = static background), sorted by name')
    .option('--dynamic <mode>', 'without --masks: auto = estimate moving pixels from the clip, none = treat everything as static', 'auto')
    .option('--dynamic-points', "draw masked pixels at their current place each frame (the official renderer without --only_bg)")
    .option('--zbuffer', 'fast preview: nearest point per pixel instead of 20-point alpha compositing')
    .option('--png', 'also write png/frame_NNNNN.png')
    .action((opts: PriorCliOptions) =>
      runCommand(Boolean(opts.verbose), async (ctx) => {
        // Validate every option before the slow parts (device, video decode).
        const frames = parseFrames(opts.frames);
        const dynamic = parseDynamic(opts.dynamic);
        const egoCalibration = opts.egoCalibration !== undefined ? parseEgoCalibration(opts.egoCalibration) : undefined;
        const take = loadEgoxTake(opts.meta, opts.take);
        // --out must be usable now, not after the whole clip is rendered.
        OutputStage.check(opts.out);
        OutputStage.checkDestinations(opts.out, priorOutputs(frames ?? PRIOR_FRAMES, Boolean(opts.png)));
        const dev = ctx.own(await openCliDevice(opts));
        const progress = process.stderr.isTTY;
        const result = await renderPrior(dev, take, {
          ...(egoCalibration ? { egoCalibration } : {}),
          ...(frames !== undefined ? { frames } : {}),
          ...(opts.masks !== undefined ? { masksDir: opts.masks } : {}),
          dynamic,
          dynamicPoints: Boolean(opts.dynamicPoints),
          mode: opts.zbuffer ? 'zbuffer' : 'composite',
          onFrame: (i) => {
            if (progress) process.stderr.write(`\rrendering frame ${i + 1}/${frames ?? 'all'}`);
          },
        });
        if (progress) process.stderr.write('\n');
        const written = await writePrior(opts.out, result, { png: Boolean(opts.png) });
        const pts = result.pointsPerFrame.reduce((s, x) => s + x, 0) / Math.max(result.pointsPerFrame.length, 1);
        const lines = [
          `take          ${take.name}`,
          `dynamic       ${result.dynamicSource}${opts.dynamicPoints ? ' (drawn per frame)' : ' (holes)'}`,
          `frames        ${result.frames.length} at ${result.size}x${result.size}`,
          `points/frame  ${Math.round(pts)} (background ${result.backgroundPoints})`,
          `time/frame    ${result.msPerFrame.toFixed(1)} ms (setup ${(result.setupMs / 1000).toFixed(2)} s: load, masks, point cloud)`,
          `wrote         ${written[written.length - 1]}${opts.png ? ` and ${written.length - 1} PNGs` : ''}`,
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );
}
