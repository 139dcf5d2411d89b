// `egox generate` as a library call: exo video + ego prior + cameras -> the first-person video.
// The run follows the official pipeline (egox-official.md A, C, F): frames resized to 784x448
// and 448x448, both encoded by the VAE, the 36-channel conditioning [clean exo | noise, mask,
// exo | prior], GGA geometry, UniPC + CFG with the exo columns kept clean, exo and ego halves
// decoded separately, written side by side at 30 fps. Many takes with one model load:
// generate-batch.ts.
import { GpuResidency } from '../graph/residency.ts';
import { WanVae } from '../model/vae/index.ts';
import type { NetworkLoadOptions } from '../model/load-options.ts';
import type { EgoxDevice } from '../runtime/device.ts';
import { conditioningEmbeddings, runPrompts } from './embed-stage.ts';
import { checkGenerateInputs, closeInputs, type CheckedInputs } from './generate-inputs.ts';
import type { GenerateOptions } from './generate-options.ts';
import { ProgressTracker, type GenerateStage } from './progress.ts';
import { writeOutputs } from './take-outputs.ts';
import { decodeHalves, denoiseTake, ditRun, encodeTake, readTakeFrames, takeGeometry, vaeDecoder } from './take-steps.ts';
import { checkSubgroupMatrices } from '../kernels/tuning/index.ts';

export { OUTPUT_FPS } from './take-outputs.ts';

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
  // Inputs first: a bad input is its one line with no progress line before it.
  const inp = await checkGenerateInputs(o);
  try {
    progress.begin('load', 'inputs checked');
    // Lets the kernels use subgroup matrices where the adapter offers them and they check out.
    await checkSubgroupMatrices(dev);
    return await run(dev, inp, progress, t0);
  } finally {
    await closeInputs(inp);
  }
}

async function run(dev: EgoxDevice, inp: CheckedInputs, progress: ProgressTracker, t0: number): Promise<GenerateResult> {
  const opt = inp.options;
  const frames = await readTakeFrames(dev, inp, progress);
  // One budget, networks one after another: each gets all of it while resident (model/load-options.ts).
  const load: NetworkLoadOptions = { weightDtype: opt.weightDtype, gpuMemoryBytes: opt.gpuMemoryBytes, residency: new GpuResidency() };
  const vae = await WanVae.load(dev, inp.model.vae, load);
  try {
    const cond = await encodeTake(vae, inp, frames, progress);
    const emb = await conditioningEmbeddings(
      dev,
      {
        textEncoder: inp.model.textEncoder,
        imageEncoder: inp.model.imageEncoder,
        tokenizerRoot: inp.model.tokenizerRoot,
        prompts: runPrompts(opt, inp.take.prompt),
        given: inp.given,
        textDim: inp.dit.config.textDim,
        imageDim: inp.dit.config.imageDim!, // checkGenerateInputs refuses a transformer without one
        load,
      },
      cond.latents,
      vaeDecoder(vae),
      progress,
    );
    const geometry = takeGeometry(inp, cond, progress);
    const dit = ditRun(inp, cond, emb);
    const { exec } = await inp.dit.load(dev, { latentShape: dit.latentShape, gga: dit.gga }, load, {}, dit.config);
    let x: Float32Array;
    try {
      x = await denoiseTake(exec, inp, dit, cond, emb, geometry, progress);
    } finally {
      exec.destroy();
    }
    const { exoOut, egoOut } = await decodeHalves(vae, x, cond, progress);
    progress.begin('write', opt.out);
    const written = await writeOutputs(inp, { exoIn: frames.exo, prior: frames.prior, exoOut, egoOut });
    progress.end();
    return { take: inp.take.name, ...written, latentShape: dit.latentShape, tokens: dit.tokens, stageMs: progress.stageMs, totalMs: performance.now() - t0 };
  } finally {
    await vae.close();
  }
}
