// `egox generate` as a library call: exo video + ego prior + cameras -> the first-person video.
// The run follows the official pipeline (egox-official.md A, C, F): frames resized to 784x448
// and 448x448, both encoded by the VAE, the 36-channel conditioning [clean exo | noise, mask,
// exo | prior], GGA geometry, UniPC + CFG with the exo columns kept clean, exo and ego halves
// decoded separately, written side by side at 30 fps.
import { writeFileSync } from 'node:fs';
import { encodeVideo, decodeVideo } from '../io/video.ts';
import { encodePng } from '../io/png.ts';
import { GpuResidency } from '../graph/residency.ts';
import { WanVae } from '../model/vae/index.ts';
import { tokenCount, tokenGrid } from '../model/wan/grid.ts';
import type { NetworkLoadOptions } from '../model/load-options.ts';
import { sampleLatents } from '../model/wan/sample.ts';
import { renderPrior } from './prior.ts';
import type { EgoxTake } from '../io/meta.ts';
import { attentionGeometryForTake } from '../recon/attention-geometry.ts';
import type { EgoxDevice } from '../runtime/device.ts';
import { contactSheet, sheetFrames } from './contact-sheet.ts';
import { conditioningEmbeddings, runPrompts } from './embed-stage.ts';
import { framesToTensor, hconcat, resizeBox, tensorToFrames } from './frames.ts';
import { checkGenerateInputs, closeInputs, takeDepth, type CheckedInputs } from './generate-inputs.ts';
import type { GenerateOptions } from './generate-options.ts';
import { buildConditioning, sliceWidth, type Latent } from './latent-layout.ts';
import { ProgressTracker, type GenerateStage } from './progress.ts';
import { SeededRandom } from './random.ts';
import { OutputStage } from './staging.ts';
import { checkSubgroupMatrices } from '../kernels/tuning/index.ts';

export const OUTPUT_FPS = 30;

export interface GenerateResult {
  take: string;
  /** Final paths of everything written. */
  files: string[];
  /** The side-by-side video (exo reconstruction | generated ego). */
  video: string;
  egoVideo: string;
  contactSheet: string;
  latentShape: [number, number, number, number];
  tokens: number;
  /** Wall time per stage, ms. */
  stageMs: Partial<Record<GenerateStage, number>>;
  totalMs: number;
}

/** Runs the whole EgoX generation on `dev` (the caller owns and destroys the device). */
export async function generate(dev: EgoxDevice, o: GenerateOptions): Promise<GenerateResult> {
  const t0 = performance.now();
  const progress = new ProgressTracker(o.onProgress);
  progress.begin('load', 'checking inputs');
  const inp = await checkGenerateInputs(o);
  // Lets the kernels use subgroup matrices where the adapter offers them and they check out.
  await checkSubgroupMatrices(dev);
  try {
    return await run(dev, inp, progress, t0);
  } finally {
    await closeInputs(inp);
  }
}

async function run(dev: EgoxDevice, inp: CheckedInputs, progress: ProgressTracker, t0: number): Promise<GenerateResult> {
  const { options: opt, take, sizes } = inp;
  const F = opt.frames;
  const exoDecoded = await decodeVideo(take.exoPath, { width: sizes.exo.width, height: sizes.exo.height, maxFrames: F });
  const priorFrames = await loadPrior(dev, take, { frames: F, size: sizes.ego, render: opt.renderPrior, renderOptions: opt.priorOptions }, progress);

  progress.begin('encode', `exo ${F}x${sizes.exo.height}x${sizes.exo.width} and prior ${F}x${sizes.ego}x${sizes.ego}`);
  // One budget, networks one after another: each gets all of it while resident (model/load-options.ts).
  const load: NetworkLoadOptions = { weightDtype: opt.weightDtype, gpuMemoryBytes: opt.gpuMemoryBytes, residency: new GpuResidency() };
  const vae = await WanVae.load(dev, inp.model.vae, load);
  let decodeLatents: (l: Latent) => Promise<Latent>;
  let x: Float32Array;
  let latentShape: [number, number, number, number];
  let tokens: number;
  try {
    const exoLatent = asLatent(await vae.encode(framesToTensor(exoDecoded.frames, sizes.exo.width, sizes.exo.height)));
    progress.tick(1, 2);
    const priorLatent = asLatent(await vae.encode(framesToTensor(priorFrames, sizes.ego, sizes.ego)));
    progress.tick(2, 2);
    const noise = new SeededRandom(opt.seed).normal(priorLatent.data.length);
    const cond = buildConditioning(exoLatent, priorLatent, noise);
    decodeLatents = async (l) => asLatent(await vae.decode(l));

    const emb = await conditioningEmbeddings(
      dev,
      {
        modelRoot: inp.model.root,
        prompts: runPrompts(opt, take.prompt),
        given: inp.given,
        textDim: inp.dit.config.textDim,
        imageDim: inp.dit.config.imageDim!, // checkGenerateInputs refuses a transformer without one
        load,
      },
      cond.latents,
      decodeLatents,
      progress,
    );

    progress.begin('geometry', opt.ggaLambda === null ? 'off (--no-gga)' : `lambda ${opt.ggaLambda}`);
    const [, T, h, W] = cond.latents.shape;
    const geometry =
      opt.ggaLambda === null
        ? null
        : attentionGeometryForTake(takeDepth(take), {
            grid: { frames: T, latentH: h, exoW: W - cond.egoCols, egoW: cond.egoCols },
            spatialStride: sizes.spatialStride,
          });

    const config = { ...inp.dit.config, textLen: emb.cond.shape[0], imageLen: emb.clip.shape[0] };
    latentShape = [config.inDim, T, h, W];
    tokens = tokenCount(tokenGrid(latentShape));
    progress.begin('denoise', `${opt.steps} steps, guidance ${opt.guidance}, ${tokens} tokens, ${inp.model.scheduler.sampler} shift ${inp.model.scheduler.shift}`);
    const { exec } = await inp.dit.load(
      dev,
      { latentShape, gga: geometry ? { lambda: opt.ggaLambda!, egoLatentCols: cond.egoCols } : null },
      load,
      {},
      config,
    );
    try {
      x = await sampleLatents(exec, {
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
        shift: inp.model.scheduler.shift,
        guidance: opt.guidance,
        sampler: inp.model.scheduler.sampler,
        freqDim: config.freqDim,
        onStep: (i, n) => progress.tick(i, n),
      });
      progress.tick(opt.steps, opt.steps);
    } finally {
      exec.destroy();
    }

    progress.begin('decode', 'exo and ego halves separately');
    const final: Latent = { shape: [16, T, h, W], data: x };
    const exoOut = tensorToFrames(await decodeLatents(sliceWidth(final, 0, W - cond.egoCols)));
    progress.tick(1, 2);
    const egoOut = tensorToFrames(await decodeLatents(sliceWidth(final, W - cond.egoCols, W)));
    progress.tick(2, 2);

    progress.begin('write', opt.out);
    const written = await writeOutputs(inp, { exoIn: exoDecoded.frames, prior: priorFrames, exoOut, egoOut });
    progress.end();
    return {
      take: take.name,
      ...written,
      latentShape,
      tokens,
      stageMs: progress.stageMs,
      totalMs: performance.now() - t0,
    };
  } finally {
    await vae.close();
  }
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

interface RunFrames {
  exoIn: Uint8Array[];
  prior: Uint8Array[];
  exoOut: Uint8Array[];
  egoOut: Uint8Array[];
}

/** Writes every output into a staging folder and moves them into --out when all succeeded. */
async function writeOutputs(inp: CheckedInputs, fr: RunFrames): Promise<{ files: string[]; video: string; egoVideo: string; contactSheet: string }> {
  const { options: opt, take, sizes } = inp;
  const S = sizes.ego;
  const XW = sizes.exo.width;
  const stage = OutputStage.open(opt.out);
  try {
    const names = { video: `${take.name}.mp4`, ego: `${take.name}_ego.mp4`, sheet: `${take.name}_sheet.png`, summary: `${take.name}.json`, prior: `${take.name}_prior.mp4` };
    const side = fr.egoOut.map((ego, i) => hconcat([{ width: XW, height: S, rgb: fr.exoOut[i]! }, { width: S, height: S, rgb: ego }]).rgb);
    await encodeVideo(stage.path(names.video), side, { width: XW + S, height: S, fps: OUTPUT_FPS });
    await encodeVideo(stage.path(names.ego), fr.egoOut, { width: S, height: S, fps: OUTPUT_FPS });
    if (opt.renderPrior) await encodeVideo(stage.path(names.prior), fr.prior, { width: S, height: S, fps: OUTPUT_FPS });
    if (opt.png) {
      fr.egoOut.forEach((rgb, i) => writeFileSync(stage.path(`png/${take.name}_ego_${String(i).padStart(5, '0')}.png`), encodePng(S, S, 3, rgb)));
    }
    const columns = [
      { label: 'exo', width: XW, height: S, frames: fr.exoIn },
      { label: 'ego prior', width: S, height: S, frames: fr.prior },
      { label: 'generated', width: S, height: S, frames: fr.egoOut },
    ];
    if (inp.gtVideo && take.egoGtPath) {
      const gt = await decodeVideo(take.egoGtPath, { width: S, height: S, maxFrames: opt.frames }).catch(() => null);
      if (gt) columns.push({ label: 'ground truth', width: S, height: S, frames: gt.frames });
    }
    const sheet = contactSheet(columns, sheetFrames(fr.egoOut.length, opt.sheetFrames), Math.min(S, 224));
    writeFileSync(stage.path(names.sheet), encodePng(sheet.width, sheet.height, 3, sheet.rgb));
    const summary = {
      take: take.name,
      meta: take.metaPath,
      model: opt.model,
      lora: opt.lora ?? null,
      prompt: opt.promptEmbeds ? { embeddings: opt.promptEmbeds } : { text: opt.prompt ?? take.prompt, negative: opt.negativePrompt },
      steps: opt.steps,
      guidance: opt.guidance,
      seed: opt.seed,
      ggaLambda: opt.ggaLambda,
      frames: opt.frames,
      size: { ego: [S, S], exo: [XW, S] },
      scheduler: inp.model.scheduler,
      prior: opt.renderPrior ? 'rendered by egox' : take.egoPriorPath,
      contactSheetColumns: columns.map((c) => c.label),
      fps: OUTPUT_FPS,
    };
    writeFileSync(stage.path(names.summary), JSON.stringify(summary, null, 2) + '\n');
    const files = stage.commit();
    const find = (n: string) => files.find((f) => f.endsWith(n))!;
    return { files, video: find(names.video), egoVideo: find(names.ego), contactSheet: find(names.sheet) };
  } catch (e) {
    stage.abort();
    throw e;
  }
}
