// Real-data check of the ego-prior renderer: renders both shared Ego-Exo4D takes with
// --ego-calibration 216,226,225 and compares them with the official ego_Prior.mp4 (mean PSNR
// over whole frames, IoU of the non-black coverage), for each dynamic-mask setting; writes a
// side-by-side PNG (ours | official | ground truth) per take into out/.
//
//   npx tsx bench/prior-quality.ts [--step N] [--dynamic auto,none] [--masks-root DIR] [--take NAME]
//                                  [--dynamic-points] [--no-png]
//
// --masks-root DIR renders with DIR/<take>/*.png instance masks instead (experiments);
// --dynamic-points draws the masked pixels at their current place (the renderer without --only_bg).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openNodeDevice } from '../src/runtime/node.ts';
import { loadEgoxTake } from '../src/io/meta.ts';
import { parseEgoCalibration } from '../src/recon/cameras.ts';
import { renderPrior, type PriorOptions } from '../src/pipeline/prior.ts';
import { comparePriors, tileImages } from '../src/recon/prior-quality.ts';
import { decodeVideo } from '../src/io/video.ts';
import { writePng } from '../src/io/png.ts';

const META = '../shared/data/egoexo4d/meta.json';
const TAKES = ['cmu_soccer06_6_877_925', 'iiith_cooking_57_2_2451_2499'];
const CALIB = '216,226,225';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const step = Number(arg('--step') ?? 1);
const settings = (arg('--dynamic') ?? 'auto,none').split(',') as ('auto' | 'none')[];
const masksRoot = arg('--masks-root');
const takes = arg('--take') ? [arg('--take')!] : TAKES;
const writeFigure = !process.argv.includes('--no-png');

const dev = await openNodeDevice();
const rows: string[] = [];
for (const name of takes) {
  const take = loadEgoxTake(META, name);
  const official = (await decodeVideo(take.egoPriorPath, { maxFrames: 49 })).frames;
  const gt = take.egoGtPath ? (await decodeVideo(take.egoGtPath, { maxFrames: 49 })).frames : [];
  const runs: [string, PriorOptions][] = masksRoot
    ? [['masks', { masksDir: path.join(masksRoot, name) }]]
    : settings.map((d) => [d, { dynamic: d }]);
  const dynamicPoints = process.argv.includes('--dynamic-points');
  for (const [label, opts] of runs) {
    // Process CPU time (includes lavapipe's threads) between the first and the last frame: a
    // per-frame cost that other processes on the machine do not inflate, unlike wall time.
    let cpuFirst = 0;
    let cpuLast = 0;
    const r = await renderPrior(dev, take, {
      ...opts,
      dynamicPoints,
      egoCalibration: parseEgoCalibration(CALIB),
      onFrame: (i) => {
        const c = process.cpuUsage();
        if (i === 0) cpuFirst = c.user + c.system;
        cpuLast = c.user + c.system;
      },
    });
    const cpuMs = r.frames.length > 1 ? (cpuLast - cpuFirst) / 1000 / (r.frames.length - 1) : NaN;
    const idx = r.frames.map((_, i) => i).filter((i) => i % step === 0);
    const cmp = comparePriors(idx.map((i) => r.frames[i]!), official, idx);
    const pts = r.pointsPerFrame.reduce((s, x) => s + x, 0) / r.pointsPerFrame.length;
    const line = `${name.padEnd(30)} ${(label + (dynamicPoints ? '+pts' : '')).padEnd(10)} PSNR ${cmp.meanPsnr.toFixed(2)} dB  IoU ${cmp.meanIoU.toFixed(3)}  ` +
      `(${idx.length} frames; ${Math.round(pts)} points/frame, ${r.msPerFrame.toFixed(0)} ms/frame wall, ${cpuMs.toFixed(0)} ms/frame CPU, setup ${(r.setupMs / 1000).toFixed(1)} s)`;
    console.log(line);
    rows.push(line);
    if (writeFigure && label === runs[0]![0]) {
      const frames = [0, 24, 48].filter((i) => i < r.frames.length);
      const fig = tileImages(frames.map((i) => [r.frames[i]!, official[i]!, ...(gt[i] ? [gt[i]!] : [])]), 448, 448);
      fs.mkdirSync('out', { recursive: true });
      const file = path.join('out', `prior-side-by-side-${name}.png`);
      writePng(file, fig.width, fig.height, 3, fig.rgb);
      console.log(`  wrote ${file} (rows: frames ${frames.join(', ')}; columns: ours | official | ground truth)`);
    }
  }
}
dev.destroy();
process.exit(0);
