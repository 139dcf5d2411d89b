// With trained MoGe-2 weights at hand: how close is egox's depth to the depth maps shipped with
// the shared Ego-Exo4D takes (made by the official ViPE pipeline), and how good is the ego prior
// that `egox prior` renders from it?
//
//   npx tsx bench/depth-vs-shipped.ts --depth-model moge-2-vitl-normal/model.pt [--num-tokens N]
//                                     [--depth-every K] [--take NAME] [--frames 49]
//
// Depth: egox prepare's depth of the take's exo.mp4 (784x448) against the shipped 448x796 maps'
// centre 784 columns (infer.py's crop), as scale-invariant AbsRel = mean |s * egox - shipped| /
// shipped over pixels valid in both, with s the median ratio; per frame (s per frame) and per clip
// (one s: what a static-camera clip keeps after egox's scale alignment). Prior: egox's depth,
// scaled by the clip's s and padded back to 796 columns (edge pixels repeated), rendered with the
// take's own cameras (--ego-calibration 216,226,225) and compared with the shipped ego_Prior.mp4
// (mean PSNR, coverage IoU), beside the same render from the shipped depth.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openNodeDevice } from '../src/runtime/node.ts';
import { loadEgoxTake, readDepthFrame } from '../src/io/meta.ts';
import { readNpy, writeNpy } from '../src/io/npy.ts';
import { decodeVideo } from '../src/io/video.ts';
import { parseEgoCalibration } from '../src/recon/cameras.ts';
import { comparePriors } from '../src/recon/prior-quality.ts';
import { renderPrior } from '../src/pipeline/prior.ts';
import { prepareTakes } from '../src/pipeline/prepare.ts';

const SHARED = path.resolve('../shared/data/egoexo4d');
const META = path.join(SHARED, 'meta.json');
const TAKES = ['cmu_soccer06_6_877_925', 'iiith_cooking_57_2_2451_2499'];
const CALIB = '216,226,225';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const depthModel = arg('--depth-model') ?? process.env.EGOX_DEPTH_MODEL;
if (!depthModel) {
  process.stderr.write('usage: npx tsx bench/depth-vs-shipped.ts --depth-model PATH/model.pt [--num-tokens N] [--depth-every K] [--take NAME] [--frames 49]\n');
  process.exit(2);
}
const frames = Number(arg('--frames') ?? 49);
const takes = arg('--take') ? [arg('--take')!] : TAKES;

function median(v: number[]): number {
  const s = v.slice().sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** The shipped [448, 796] map's centre 784 columns. */
function cropShipped(d: Float32Array, W: number, H: number, w: number): Float32Array {
  const x0 = (W - w) >> 1;
  const out = new Float32Array(w * H);
  for (let y = 0; y < H; y++) out.set(d.subarray(y * W + x0, y * W + x0 + w), y * w);
  return out;
}

function ratios(ours: Float32Array, ref: Float32Array): number[] {
  const r: number[] = [];
  for (let p = 0; p < ours.length; p += 7) if (ours[p]! > 0 && ref[p]! > 0 && Number.isFinite(ref[p]!)) r.push(ref[p]! / ours[p]!);
  return r;
}

function absRel(ours: Float32Array, ref: Float32Array, s: number): number {
  let sum = 0;
  let n = 0;
  for (let p = 0; p < ours.length; p++) {
    if (!(ours[p]! > 0 && ref[p]! > 0 && Number.isFinite(ref[p]!))) continue;
    sum += Math.abs(s * ours[p]! - ref[p]!) / ref[p]!;
    n++;
  }
  return sum / n;
}

/** egox's [448, 784] depth padded to the shipped width by repeating the edge columns. */
function padTo(d: Float32Array, w: number, H: number, W: number, s: number): Float32Array {
  const x0 = (W - w) >> 1;
  const out = new Float32Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[y * W + x] = s * d[y * w + Math.min(w - 1, Math.max(0, x - x0))]!;
  return out;
}

const dev = await openNodeDevice();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-depth-vs-shipped-'));
try {
  for (const name of takes) {
    const shipped = loadEgoxTake(META, name);
    const [H, W] = shipped.depthShape;
    const prepared = await prepareTakes(dev, {
      videos: [shipped.exoPath],
      out: path.join(tmp, 'prepared'),
      take: name,
      frames,
      depthModel,
      numTokens: arg('--num-tokens') ? Number(arg('--num-tokens')) : undefined,
      depthEvery: Number(arg('--depth-every') ?? 1),
      onNote: (s) => console.log(`  note: ${s}`),
    });
    const t = prepared.takes[0]!;
    const ours = Array.from({ length: frames }, (_, f) => readNpy(path.join(tmp, 'prepared', 'depth_maps', name, `${String(f).padStart(5, '0')}.npy`)).data as Float32Array);
    const w = 784;
    const refs = ours.map((_, f) => cropShipped(readDepthFrame(shipped, f), W, H, w));
    const clipScale = median(ours.flatMap((d, f) => ratios(d, refs[f]!)));
    const perFrame = ours.map((d, f) => absRel(d, refs[f]!, median(ratios(d, refs[f]!))));
    const perClip = ours.map((d, f) => absRel(d, refs[f]!, clipScale));
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

    // The prior from egox's depth in the take's own world, against the shipped prior.
    const depthDir = path.join(tmp, 'depth', name);
    fs.mkdirSync(depthDir, { recursive: true });
    ours.forEach((d, f) => writeNpy(path.join(depthDir, `${String(f).padStart(5, '0')}.npy`), { dtype: 'f4', shape: [H, W], data: padTo(d, w, H, W, clipScale) }));
    const official = (await decodeVideo(shipped.egoPriorPath, { maxFrames: frames })).frames;
    const calib = parseEgoCalibration(CALIB);
    const mine = await renderPrior(dev, loadEgoxTake(META, name, { depthDir, requiredDepthFrames: frames }), { frames, egoCalibration: calib });
    const base = await renderPrior(dev, shipped, { frames, egoCalibration: calib });
    const a = comparePriors(mine.frames, official);
    const b = comparePriors(base.frames, official);
    console.log(
      [
        `${name}: MoGe-2 ${t.numTokens} tokens, ${(t.networkMsPerFrame / 1000).toFixed(2)} s/frame, focal ${t.intrinsics[0]![0]!.toFixed(1)} px (784 grid), camera ${t.cameraMoves ? 'moves' : 'static'}`,
        `  depth AbsRel (scale-invariant): per frame ${mean(perFrame).toFixed(4)}, one scale per clip ${mean(perClip).toFixed(4)} (shipped / egox = ${clipScale.toFixed(3)})`,
        `  prior vs shipped ego_Prior.mp4: egox depth PSNR ${a.meanPsnr.toFixed(2)} dB IoU ${a.meanIoU.toFixed(3)}; shipped depth PSNR ${b.meanPsnr.toFixed(2)} dB IoU ${b.meanIoU.toFixed(3)}`,
      ].join('\n'),
    );
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
  dev.destroy();
}
process.exit(0);
