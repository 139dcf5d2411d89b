// Many takes of a meta.json with one model load (`egox generate` without --take). The takes run
// network by network so that each network is loaded once and only one holds GPU memory at a
// time (each gets the whole --gpu-memory budget while resident, checked by GpuResidency):
//   1. umT5 encodes every distinct prompt of the run, then is released (prompt-cache.ts);
//   2. then, wave by wave (`wave` takes held in host memory, about 100 MB each at 448 px):
//      VAE encodes of the wave (and the first frame CLIP sees), CLIP for the wave, the DiT for
//      the wave (one executor, reloaded only if a take needs another shape), VAE decodes, and
//      each take's outputs committed and recorded in summary.json as soon as it is decoded.
// The VAE holds GPU memory only inside each encode or decode call, so its open checkpoint
// stays for the whole run; CLIP and the DiT are loaded once per wave (once for runs of up to
// `wave` takes). A take that fails is recorded with its one-line error and the run goes on.
import type { EgoxDevice } from '../runtime/device.ts';
import { GpuResidency } from '../graph/residency.ts';
import type { Executor } from '../graph/executor.ts';
import { loadEgoxMeta } from '../io/meta.ts';
import { checkSubgroupMatrices } from '../kernels/tuning/index.ts';
import { ClipVisionEncoder } from '../model/clip/index.ts';
import type { NetworkLoadOptions, NetworkName } from '../model/load-options.ts';
import { WanVae } from '../model/vae/index.ts';
import { BatchSummary, round, SUMMARY_TEMP_PREFIX, type TakeRecord, type TakeStatus } from './batch-summary.ts';
import { clipEmbedding, clipInputImage, needEncoder, runPrompts, type RunEmbeddings } from './embed-stage.ts';
import type { Embedding } from './embeddings.ts';
import { checkModelInputs, checkTakeInputs, closeInputs, type CheckedInputs, type ModelInputs } from './generate-inputs.ts';
import { GenerateOptionError, resolveGenerateOptions, type GenerateOptions } from './generate-options.ts';
import type { EgoxConditioning } from './latent-layout.ts';
import { removeStaleTemps } from './owned-temp.ts';
import { ProgressTracker, type ProgressEvent } from './progress.ts';
import { PromptEmbeddings } from './prompt-cache.ts';
import { OutputStage, STAGE_PREFIX } from './staging.ts';
import { outputsComplete, writeOutputs } from './take-outputs.ts';
import { selectTakes, type Shard } from './take-selection.ts';
import { decodeHalves, denoiseTake, ditRun, encodeTake, readTakeFrames, takeGeometry, vaeDecoder, type TakeFrames } from './take-steps.ts';

export interface BatchOptions extends Omit<GenerateOptions, 'take' | 'depthDir' | 'onProgress'> {
  /** Takes to run (default: every take of the meta file), kept in meta-file order. */
  takes?: string[];
  /** Run only the takes of this shard (take-selection.ts). */
  shard?: Shard;
  /** Redo takes whose outputs are already complete in --out (default: skip them). */
  overwrite?: boolean;
  /** Stop at the first failed take (default: record it and go on). */
  failFast?: boolean;
  /** Takes held in host memory between networks (8). */
  wave?: number;
  onEvent?: (e: BatchEvent) => void;
  /** The one line recorded for a failed take (the CLI words errors in its own options). */
  describeError?: (e: Error) => string;
}

export type BatchEvent =
  | { type: 'take'; take: string; index: number; total: number; status: TakeStatus; error?: string; seconds?: number }
  | { type: 'network'; network: NetworkName; action: 'load' | 'release' }
  | { type: 'progress'; take: string; event: ProgressEvent };

export interface BatchResult {
  /** Path of summary.json (summary-<I>-of-<N>.json for a shard). */
  summary: string;
  takes: TakeRecord[];
  /** 0 when no take failed; else 1 if any failure was internal, 2 if all were bad input. */
  exitCode: 0 | 1 | 2;
}

export const DEFAULT_WAVE = 8;

/** Runs every selected take on `dev` (the caller owns and destroys the device). */
export async function generateBatch(dev: EgoxDevice, o: BatchOptions): Promise<BatchResult> {
  const options = resolveGenerateOptions({ ...o, take: undefined, depthDir: undefined, onProgress: undefined });
  const wave = o.wave ?? DEFAULT_WAVE;
  if (!Number.isInteger(wave) || wave < 1) throw new GenerateOptionError(`--wave ${wave}: expected a whole number >= 1`);
  OutputStage.check(options.out);
  // Poses are checked per take (a take with too few fails alone), the entries' format here.
  const inMeta = loadEgoxMeta(options.meta, { requiredEgoPoses: 0 });
  const names = selectTakes(options.meta, inMeta.map((t) => t.name), o.takes, o.shard);
  const model = await checkModelInputs(options);
  try {
    await checkSubgroupMatrices(dev);
    const prompts = new Map(inMeta.map((t) => [t.name, runPrompts(options, t.prompt)] as const));
    return await new BatchRun(dev, o, model, names, prompts, wave).run();
  } finally {
    await closeInputs(model);
  }
}

/** A take between networks: what its next steps need. */
interface TakeState {
  name: string;
  inp: CheckedInputs;
  progress: ProgressTracker;
  frames: TakeFrames;
  cond: EgoxConditioning;
  clipImage: { width: number; height: number; rgb: Uint8Array } | null;
  clip?: Embedding;
  x?: Float32Array;
}

class BatchRun {
  private readonly summary: BatchSummary;
  private readonly load: NetworkLoadOptions;
  private vae: WanVae | null = null;
  private texts: PromptEmbeddings | null = null;

  constructor(
    private readonly dev: EgoxDevice,
    private readonly o: BatchOptions,
    private readonly model: ModelInputs,
    private readonly names: string[],
    private readonly prompts: Map<string, [string, string]>,
    private readonly wave: number,
  ) {
    const opt = model.options;
    this.load = { weightDtype: opt.weightDtype, gpuMemoryBytes: opt.gpuMemoryBytes, residency: new GpuResidency() };
    const settings = { model: opt.model, lora: opt.lora ?? null, steps: opt.steps, guidance: opt.guidance, seed: opt.seed, ggaLambda: opt.ggaLambda, frames: opt.frames, size: opt.size };
    this.summary = new BatchSummary(opt.out, { meta: opt.meta, shard: o.shard, settings }, names, opt.seed);
  }

  async run(): Promise<BatchResult> {
    const opt = this.model.options;
    removeStaleTemps(opt.out, [STAGE_PREFIX, SUMMARY_TEMP_PREFIX]); // what a killed run left
    const todo: string[] = [];
    for (const name of this.names) {
      if (!this.o.overwrite && outputsComplete(this.model, name)) {
        this.setStatus(name, 'skipped', { note: 'outputs already complete in --out (rerun with --overwrite to redo)' });
      } else todo.push(name);
    }
    this.summary.write();
    try {
      if (todo.length > 0 && !this.model.given.cond) {
        const all = todo.flatMap((n) => this.prompts.get(n)!);
        this.texts = await this.network('umt5', () => PromptEmbeddings.encode(
            this.dev,
            { textEncoder: needEncoder(this.model.model.textEncoder, 'text'), tokenizerRoot: this.model.model.tokenizerRoot },
            all,
            this.model.dit.config.textDim,
            this.load,
          ));
        this.emit({ type: 'network', network: 'umt5', action: 'release' }); // encode() closed it
      }
      for (let i = 0; i < todo.length; i += this.wave) await this.runWave(todo.slice(i, i + this.wave));
    } finally {
      if (this.vae) {
        await this.vae.close();
        this.emit({ type: 'network', network: 'vae', action: 'release' });
      }
    }
    this.summary.finish();
    const failed = this.summary.takes.filter((t) => t.status === 'failed');
    const exitCode = failed.length === 0 ? 0 : failed.some((t) => t.exitCode !== 2) ? 1 : 2;
    return { summary: this.summary.path, takes: this.summary.takes, exitCode };
  }

  private async runWave(names: string[]): Promise<void> {
    let states: TakeState[] = [];
    for (const name of names) {
      const s = await this.attempt(name, async (progress) => {
        progress.begin('load', 'checking inputs');
        const inp: CheckedInputs = { ...this.model, ...(await checkTakeInputs(this.model.options, name)) };
        const frames = await readTakeFrames(this.dev, inp, progress);
        const vae = await this.openVae();
        const cond = await encodeTake(vae, inp, frames, progress);
        const clipImage = this.model.given.image ? null : await clipInputImage(cond.latents, vaeDecoder(vae));
        progress.end();
        return { name, inp, progress, frames, cond, clipImage };
      });
      if (s) states.push(s);
    }
    if (states.length > 0 && !this.model.given.image) await this.clipStep(states);
    states = states.filter((s) => this.summary.record(s.name).status === 'running');
    if (states.length > 0) await this.ditStep(states);
    for (const s of states.filter((t) => t.x)) {
      await this.attempt(s.name, async (progress) => {
        const { exoOut, egoOut } = await decodeHalves(await this.openVae(), s.x!, s.cond, progress);
        progress.begin('write', s.inp.options.out);
        await writeOutputs(s.inp, { exoIn: s.frames.exo, prior: s.frames.prior, exoOut, egoOut });
        progress.end();
        this.setStatus(s.name, 'done', workTime(progress));
      }, s.progress);
    }
  }

  private async clipStep(states: TakeState[]): Promise<void> {
    const imageDim = this.model.dit.config.imageDim!;
    const enc = await this.network('clip-vision', () => ClipVisionEncoder.open(this.dev, needEncoder(this.model.model.imageEncoder, 'image'), this.load));
    try {
      for (const s of states) {
        await this.attempt(s.name, async (progress) => {
          progress.begin('embed', 'CLIP first frame');
          s.clip = clipEmbedding(await enc.encodeRgb8(s.clipImage!), imageDim);
          progress.end();
        }, s.progress);
      }
    } finally {
      await enc.close();
      this.emit({ type: 'network', network: 'clip-vision', action: 'release' });
    }
  }

  private async ditStep(states: TakeState[]): Promise<void> {
    let loaded: { key: string; exec: Executor } | null = null;
    const release = () => {
      if (!loaded) return;
      loaded.exec.destroy();
      loaded = null;
      this.emit({ type: 'network', network: 'dit', action: 'release' });
    };
    try {
      for (const s of states) {
        await this.attempt(s.name, async (progress) => {
          const emb = this.embeddings(s);
          const geometry = takeGeometry(s.inp, s.cond, progress);
          const run = ditRun(s.inp, s.cond, emb);
          if (loaded?.key !== run.key) {
            release();
            const { exec } = await this.network('dit', () => this.model.dit.load(this.dev, { latentShape: run.latentShape, gga: run.gga }, this.load, {}, run.config));
            loaded = { key: run.key, exec };
          }
          s.x = await denoiseTake(loaded!.exec, s.inp, run, s.cond, emb, geometry, progress);
          progress.end();
        }, s.progress);
      }
    } finally {
      release();
    }
  }

  private embeddings(s: TakeState): RunEmbeddings {
    const given = this.model.given;
    const [p, n] = this.prompts.get(s.name)!;
    const text = given.cond && given.uncond ? { cond: given.cond, uncond: given.uncond } : { cond: this.texts!.get(p), uncond: this.texts!.get(n) };
    return { ...text, clip: given.image ?? s.clip! };
  }

  private async openVae(): Promise<WanVae> {
    this.vae ??= await this.network('vae', () => WanVae.load(this.dev, this.model.model.vae, this.load));
    return this.vae;
  }

  /** Loads a network, timing it into the summary and telling the caller (release is the caller's). */
  private async network<T>(name: NetworkName, open: () => Promise<T>): Promise<T> {
    const t = performance.now();
    const r = await open();
    this.summary.addNetworkTime(name, performance.now() - t);
    this.emit({ type: 'network', network: name, action: 'load' });
    return r;
  }

  /** Runs one step of a take; a failure marks the take failed (and stops the run with failFast). */
  private async attempt<T>(name: string, step: (p: ProgressTracker) => Promise<T>, progress?: ProgressTracker): Promise<T | null> {
    if (!progress) {
      progress = new ProgressTracker((event) => this.emit({ type: 'progress', take: name, event }));
      this.setStatus(name, 'running', { startedAt: new Date().toISOString() });
    }
    try {
      return await step(progress);
    } catch (e) {
      progress.end();
      const err = e instanceof Error ? e : new Error(String(e));
      const line = this.o.describeError?.(err) ?? err.message.split('\n')[0]!;
      const exitCode = (err as { exitCode?: number }).exitCode === 2 ? 2 : 1;
      this.setStatus(name, 'failed', { error: line, exitCode, ...workTime(progress) });
      if (this.o.failFast) throw err;
      return null;
    } finally {
      this.summary.record(name).stageSeconds = workTime(progress).stageSeconds;
    }
  }

  private setStatus(name: string, status: TakeStatus, change: Partial<TakeRecord> = {}): void {
    const ended = status === 'done' || status === 'failed' || status === 'skipped';
    this.summary.update(name, { ...change, status, ...(ended ? { finishedAt: new Date().toISOString() } : {}) });
    const r = this.summary.record(name);
    this.emit({ type: 'take', take: name, index: this.names.indexOf(name) + 1, total: this.names.length, status, error: r.error ?? undefined, seconds: r.seconds ?? undefined });
  }

  private emit(e: BatchEvent): void {
    this.o.onEvent?.(e);
  }
}

/** A take's own time: its stages (takes of a wave interleave, so wall time between its start and end is not its own). */
function workTime(progress: ProgressTracker): Pick<TakeRecord, 'stageSeconds' | 'seconds'> {
  const ms = Object.entries(progress.stageMs);
  return { stageSeconds: Object.fromEntries(ms.map(([k, v]) => [k, round(v! / 1000)])), seconds: round(ms.reduce((a, [, v]) => a + v!, 0) / 1000) };
}
