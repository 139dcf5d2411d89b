// Progress of a generate run as events: the library hands them to a callback, the CLI draws
// them (progress bar on a TTY, plain lines otherwise, JSON lines with --json, nothing with --quiet).

export type GenerateStage = 'load' | 'prior' | 'encode' | 'embed' | 'geometry' | 'denoise' | 'decode' | 'write';

export const STAGE_TITLES: Record<GenerateStage, string> = {
  load: 'load inputs and weights',
  prior: 'ego prior',
  encode: 'VAE encode',
  embed: 'text and image embeddings',
  geometry: 'attention geometry',
  denoise: 'denoise',
  decode: 'VAE decode',
  write: 'write outputs',
};

export type ProgressEvent =
  /** A stage begins; `detail` says what it works on. */
  | { type: 'stage'; stage: GenerateStage; detail: string }
  /** Unit k of n of the current stage done (denoise steps, prior frames); ETA from the mean so far. */
  | { type: 'tick'; stage: GenerateStage; done: number; total: number; elapsedMs: number; etaMs: number }
  /** A stage ended. */
  | { type: 'stage-done'; stage: GenerateStage; ms: number };

export type ProgressCallback = (e: ProgressEvent) => void;

/** Turns stage begin/tick/end calls into events with timings and ETAs. */
export class ProgressTracker {
  private stage: GenerateStage | null = null;
  private t0 = 0;
  readonly stageMs: Partial<Record<GenerateStage, number>> = {};

  constructor(private readonly emit: ProgressCallback = () => {}) {}

  begin(stage: GenerateStage, detail: string): void {
    this.end();
    this.stage = stage;
    this.t0 = performance.now();
    this.emit({ type: 'stage', stage, detail });
  }

  tick(done: number, total: number): void {
    if (!this.stage) return;
    const elapsedMs = performance.now() - this.t0;
    const etaMs = done > 0 ? (elapsedMs / done) * (total - done) : 0;
    this.emit({ type: 'tick', stage: this.stage, done, total, elapsedMs, etaMs });
  }

  end(): void {
    if (!this.stage) return;
    const ms = performance.now() - this.t0;
    this.stageMs[this.stage] = (this.stageMs[this.stage] ?? 0) + ms;
    this.emit({ type: 'stage-done', stage: this.stage, ms });
    this.stage = null;
  }
}
