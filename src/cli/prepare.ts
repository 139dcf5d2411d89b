// `egox prepare`: plain videos -> EgoX takes (exo.mp4, metric depth maps, meta.json entry) with
// MoGe-2 on the graph executor; progress on stderr, a summary per take on stdout.
import type { Command } from 'commander';
import { PREPARE_DEFAULTS, prepareTakes, type PrepareProgress, type PreparedTake } from '../pipeline/prepare.ts';
import { UsageError, num, parsePositiveInt } from './parse.ts';
import { formatDuration } from './progress-reporter.ts';
import { runCommand, type GpuOptions } from './run-command.ts';
import { prepareDevice } from './tuning.ts';
import { installInterruptCleanup } from './generate.ts';
import { networkLoadOptions, openCliDevice, withDeviceOptions, withNetworkOptions, type NetworkCliOptions } from './device-options.ts';

interface PrepareCliOptions extends GpuOptions, NetworkCliOptions {
  out: string;
  take?: string;
  start: string;
  frames: string;
  fps?: string;
  prompt?: string;
  depthModel?: string;
  intrinsics?: string;
  numTokens?: string;
  depthEvery: string;
  quiet?: boolean;
}

function parseIntrinsics(text: string): [number, number, number, number] {
  const v = text.split(',').map((s) => Number(s.trim()));
  if (v.length !== 4 || !v.every((x) => Number.isFinite(x) && x > 0)) {
    throw new UsageError(`--intrinsics '${text}': expected fx,fy,cx,cy (four positive numbers, pixels of the input video), e.g. 1250,1250,960,540`);
  }
  return v as [number, number, number, number];
}

/** Stage lines; the depth count redrawn in place on a TTY, about ten lines a take in a log. */
function progressLine(quiet: boolean): (e: PrepareProgress) => void {
  if (quiet) return () => {};
  const tty = process.stderr.isTTY;
  return (e) => {
    if (e.type === 'take') {
      process.stderr.write(`${e.take} (${e.index + 1}/${e.count}): ${e.detail}\n`);
      return;
    }
    const eta = e.done < e.total ? `, ETA ${formatDuration((e.elapsedMs / e.done) * (e.total - e.done))}` : '';
    const line = `  depth ${e.done}/${e.total} frames, ${formatDuration(e.elapsedMs)}${eta}`;
    if (tty) process.stderr.write(`\r${line}   ${e.done === e.total ? '\n' : ''}`);
    else if (e.done === e.total || e.done % Math.max(1, Math.floor(e.total / 10)) === 0) process.stderr.write(`${line}\n`);
  };
}

function summary(t: PreparedTake): string {
  const k = t.intrinsics;
  const scales = t.scales.map(Math.log);
  const spread = Math.max(...scales) - Math.min(...scales);
  return [
    `take        ${t.take} (${t.frames} frames at ${t.fps.toFixed(2)} fps from ${t.video})`,
    `intrinsics  fx ${k[0]![0]!.toFixed(1)} fy ${k[1]![1]!.toFixed(1)} cx ${k[0]![2]} cy ${k[1]![2]} on 784x448 (${t.focalSource})`,
    `depth       MoGe-2 on ${t.keyframes} frames at ${t.numTokens} tokens, ${(t.networkMsPerFrame / 1000).toFixed(2)} s/frame; background scale aligned (per-frame corrections within ${(100 * (Math.exp(spread) - 1)).toFixed(1)}%)`,
    `camera      ${t.cameraMoves ? 'SEEMS TO MOVE (EgoX needs a static exo camera)' : 'static'}`,
  ].join('\n');
}

export function registerPrepareCommand(program: Command): void {
  const d = PREPARE_DEFAULTS;
  withNetworkOptions(withDeviceOptions(program.command('prepare')), 'f32')
    .description('turn plain videos into EgoX takes: videos/<take>/exo.mp4 (784x448), depth_maps/<take>/NNNNN.npy (metric depth, MoGe-2), meta.json')
    .argument('<video...>', 'video files or folders of PNG frames (several: one take each, named after the file)')
    .requiredOption('--out <dir>', 'dataset folder (created if missing; an existing meta.json there keeps its other takes)')
    .option('--take <name>', 'take name (one video only; default the video file name)')
    .option('--start <seconds>', 'skip this many seconds first', String(d.startSeconds))
    .option('--frames <n>', 'frames per take', String(d.frames))
    .option('--fps <rate>', "resample to this frame rate (default the video's own)")
    .option('--prompt <text>', 'the EgoX caption ([Exo view] ... [Ego view] ...); default a neutral placeholder')
    .option('--depth-model <path>', 'MoGe-2 model.pt (e.g. Ruicheng/moge-2-vitl-normal; env EGOX_DEPTH_MODEL)')
    .option('--intrinsics <fx,fy,cx,cy>', 'known exo intrinsics in pixels of the input video (replace the estimate)')
    .option('--num-tokens <n>', "MoGe-2 ViT token budget (default the model's most; lowered to fit the adapter's binding limit)")
    .option('--depth-every <k>', 'run the network on every k-th frame and interpolate between (faster, blurs moving people)', String(d.depthEvery))
    .option('--quiet', 'no progress output')
    .action((videos: string[], o: PrepareCliOptions) =>
      runCommand(Boolean(o.verbose), async (ctx) => {
        installInterruptCleanup();
        const depthModel = o.depthModel ?? process.env.EGOX_DEPTH_MODEL;
        if (!depthModel) throw new UsageError('no depth model: pass --depth-model PATH (the MoGe-2 model.pt, e.g. from Hugging Face Ruicheng/moge-2-vitl-normal) or set EGOX_DEPTH_MODEL');
        const options = {
          videos,
          out: o.out,
          take: o.take,
          startSeconds: num(o.start, '--start'),
          frames: parsePositiveInt(o.frames, '--frames'),
          fps: o.fps === undefined ? undefined : num(o.fps, '--fps'),
          prompt: o.prompt,
          depthModel,
          intrinsics: o.intrinsics === undefined ? undefined : parseIntrinsics(o.intrinsics),
          numTokens: o.numTokens === undefined ? undefined : parsePositiveInt(o.numTokens, '--num-tokens'),
          depthEvery: parsePositiveInt(o.depthEvery, '--depth-every'),
          load: networkLoadOptions(o),
          onProgress: progressLine(Boolean(o.quiet)),
          onNote: (line: string) => process.stderr.write(`note: ${line}\n`),
        };
        const dev = ctx.own(await openCliDevice(o));
        await prepareDevice(dev);
        const r = await prepareTakes(dev, options);
        process.stdout.write(r.takes.map(summary).join('\n\n') + `\nmeta        ${r.metaPath}\n`);
      }),
    );
}
