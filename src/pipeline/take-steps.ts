// The steps of one take's run, in the order the official pipeline takes them (egox-official.md
// A, C, F). generate (one take) and generateBatch (many, network by network) both call these,
// so a take comes out the same, bit for bit, whichever ran it.
import { decodeVideo } from '../io/video.ts';
import type { EgoxTake } from '../io/meta.ts';
import type { WanVae } from '../model/vae/index.ts';
import { tokenCount, tokenGrid } from '../model/wan/grid.ts';
import type { WanConfig } from '../model/wan/config.ts';
import type { Executor } from '../graph/executor.ts';
import { sampleLatents } from '../model/wan/sample.ts';
import { attentionGeometryForTake, type AttentionGeometry } from '../recon/attention-geometry.ts';
import type { EgoxDevice } from '../runtime/device.ts';
import type { RunEmbeddings } from './embed-stage.ts';
import { framesToTensor, resizeBox, tensorToFrames } from './frames.ts';
import { takeDepth, type CheckedInputs } from './generate-inputs.ts';
import type { GenerateOptions } from './generate-options.ts';
import { buildConditioning, sliceWidth, type EgoxConditioning, type Latent } from './latent-layout.ts';
import { renderPrior } from './prior.ts';
import type { ProgressTracker } from './progress.ts';
import { SeededRandom } from './random.ts';

/** The pixel frames a take starts from (kept for the outputs' side-by-side and contact sheet). */
export interface TakeFrames {
  exo: Uint8Array[];
  prior: Uint8Array[];
}

export async function readTakeFrames(dev: EgoxDevice, inp: CheckedInputs, progress: ProgressTracker): Promise<TakeFrames> {
  const { options: opt, take, sizes } = inp;
  const exo = await decodeVideo(take.exoPath, { width: sizes.exo.width, height: sizes.exo.height, maxFrames: opt.frames });
  const prior = await loadPrior(dev, take, { frames: opt.frames, size: sizes.ego, render: opt.renderPrior, renderOptions: opt.priorOptions }, progress);
  return { exo: exo.frames, prior };
}

/** Both videos through the VAE and the 36-channel conditioning, with the take's seeded noise. */
export async function encodeTake(vae: WanVae, inp: CheckedInputs, frames: TakeFrames, progress: ProgressTracker): Promise<EgoxConditioning> {
  const { options: opt, sizes } = inp;
  progress.begin('encode', `exo ${opt.frames}x${sizes.exo.height}x${sizes.exo.width} and prior ${opt.frames}x${sizes.ego}x${sizes.ego}`);
  const exoLatent = asLatent(await vae.encode(framesToTensor(frames.exo, sizes.exo.width, sizes.exo.height)));
  progress.tick(1, 2);
  const priorLatent = asLatent(await vae.encode(framesToTensor(frames.prior, sizes.ego, sizes.ego)));
  progress.tick(2, 2);
  const noise = new SeededRandom(opt.seed).normal(priorLatent.data.length);
  return buildConditioning(exoLatent, priorLatent, noise);
}

export function vaeDecoder(vae: WanVae): (l: Latent) => Promise<Latent> {
  return async (l) => asLatent(await vae.decode(l));
}

/** What the DiT of a take is built for; takes with equal `key`s share one loaded DiT. */
export interface DitRun {
  config: WanConfig;
  latentShape: [number, number, number, number];
  tokens: number;
  gga: { lambda: number; egoLatentCols: number } | null;
  key: string;
}

export function ditRun(inp: CheckedInputs, cond: EgoxConditioning, emb: RunEmbeddings): DitRun {
  const [, T, h, W] = cond.latents.shape;
  const config = { ...inp.dit.config, textLen: emb.cond.shape[0], imageLen: emb.clip.shape[0] };
  const latentShape: [number, number, number, number] = [config.inDim, T, h, W];
  const gga = inp.options.ggaLambda === null ? null : { lambda: inp.options.ggaLambda, egoLatentCols: cond.egoCols };
  return { config, latentShape, tokens: tokenCount(tokenGrid(latentShape)), gga, key: JSON.stringify([latentShape, gga, config.textLen, config.imageLen]) };
}

/** The per-token directions of geometry-guided attention (null with --no-gga). */
export function takeGeometry(inp: CheckedInputs, cond: EgoxConditioning, progress: ProgressTracker): AttentionGeometry | null {
  const opt = inp.options;
  progress.begin('geometry', opt.ggaLambda === null ? 'off (--no-gga)' : `lambda ${opt.ggaLambda}`);
  if (opt.ggaLambda === null) return null;
  const [, T, h, W] = cond.latents.shape;
  return attentionGeometryForTake(takeDepth(inp.take), {
    grid: { frames: T, latentH: h, exoW: W - cond.egoCols, egoW: cond.egoCols },
    spatialStride: inp.sizes.spatialStride,
  });
}

/** UniPC + CFG on a loaded DiT, the exo columns kept clean: the final latent [16, T, h, W]. */
export async function denoiseTake(
  exec: Executor,
  inp: CheckedInputs,
  run: DitRun,
  cond: EgoxConditioning,
  emb: RunEmbeddings,
  geometry: AttentionGeometry | null,
  progress: ProgressTracker,
): Promise<Float32Array> {
  const opt = inp.options;
  const sch = inp.model.scheduler;
  progress.begin('denoise', `${opt.steps} steps, guidance ${opt.guidance}, ${run.tokens} tokens, ${sch.sampler} shift ${sch.shift}`);
  const x = await sampleLatents(exec, {
    latents: cond.latents.data,
    mask: cond.mask.data,
    condition: cond.condition.data,
    contextCond: emb.cond.data,
    contextUncond: emb.uncond.data,
    clip: emb.clip.data,
    gga: geometry ? { queryDirs: geometry.queryDirs, keyDirs: geometry.keyDirs } : undefined,
    latentShape: cond.latents.shape,
    egoLatentCols: cond.egoCols,
    steps: opt.steps,
    shift: sch.shift,
    guidance: opt.guidance,
    sampler: sch.sampler,
    freqDim: run.config.freqDim,
    onStep: (i, n) => progress.tick(i, n),
  });
  progress.tick(opt.steps, opt.steps);
  return x;
}

/** The exo and ego halves of the final latent decoded separately (as EgoX does). */
export async function decodeHalves(vae: WanVae, x: Float32Array, cond: EgoxConditioning, progress: ProgressTracker): Promise<{ exoOut: Uint8Array[]; egoOut: Uint8Array[] }> {
  progress.begin('decode', 'exo and ego halves separately');
  const [, T, h, W] = cond.latents.shape;
  const final: Latent = { shape: [16, T, h, W], data: x };
  const decode = vaeDecoder(vae);
  const exoOut = tensorToFrames(await decode(sliceWidth(final, 0, W - cond.egoCols)));
  progress.tick(1, 2);
  const egoOut = tensorToFrames(await decode(sliceWidth(final, W - cond.egoCols, W)));
  progress.tick(2, 2);
  return { exoOut, egoOut };
}

function asLatent(t: { shape: readonly number[]; data: Float32Array }): Latent {
  return { shape: [t.shape[0]!, t.shape[1]!, t.shape[2]!, t.shape[3]!], data: t.data };
}

interface PriorRequest {
  frames: number;
  /** Ego side in pixels. */
  size: number;
  /** Render with egox's renderer (--render-prior) instead of reading ego_prior_path. */
  render: boolean;
  renderOptions: GenerateOptions['priorOptions'];
}

/** The ego prior at the run's size: rendered by egox (--render-prior) or read from ego_prior_path. */
async function loadPrior(dev: EgoxDevice, take: EgoxTake, want: PriorRequest, progress: ProgressTracker): Promise<Uint8Array[]> {
  const { frames, size: S } = want;
  if (!want.render) {
    progress.begin('prior', take.egoPriorPath);
    return (await decodeVideo(take.egoPriorPath, { width: S, height: S, maxFrames: frames })).frames;
  }
  progress.begin('prior', `rendering ${frames} frames from the point cloud`);
  const r = await renderPrior(dev, takeDepth(take), { ...want.renderOptions, frames, onFrame: (i) => progress.tick(i + 1, frames) });
  return r.size === S ? r.frames : r.frames.map((f) => resizeBox({ width: r.size, height: r.size, rgb: f }, S, S).rgb);
}

