// All outputs of a run are written into a hidden staging folder inside --out and moved into
// place only when everything succeeded, so an error or an interrupt never leaves a
// half-written video or a partial set of files behind.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../runtime/errors.ts';
import { ownedTempName } from './owned-temp.ts';

/** Output folder problems (a file in the way, not writable): exit code 2. */
export class OutputFolderError extends InputError {}

/** Staging folders start with this; a killed run's are removed by the next batch run (owned-temp.ts). */
export const STAGE_PREFIX = '.egox-partial-';

const live = new Set<OutputStage>();

export class OutputStage {
  readonly dir: string;
  private readonly names: string[] = [];
  private done = false;

  private constructor(readonly outDir: string) {
    this.dir = path.join(outDir, ownedTempName(STAGE_PREFIX));
  }

  /** Checks that `outDir` can be an output folder without creating anything. */
  static check(outDir: string): void {
    if (fs.existsSync(outDir) && !fs.statSync(outDir).isDirectory()) {
      throw new OutputFolderError(`--out ${outDir}: is a file, not a folder; give a folder path (it is created if missing)`);
    }
    let p = path.resolve(outDir);
    while (!fs.existsSync(p)) p = path.dirname(p);
    if (!fs.statSync(p).isDirectory()) throw new OutputFolderError(`--out ${outDir}: ${p} is a file, so the folder cannot be created`);
  }

  static open(outDir: string): OutputStage {
    OutputStage.check(outDir);
    fs.mkdirSync(outDir, { recursive: true });
    const s = new OutputStage(outDir);
    fs.mkdirSync(s.dir);
    live.add(s);
    return s;
  }

  /** Path to write `name` (relative, may contain one folder level like png/x.png) to. */
  path(name: string): string {
    const p = path.join(this.dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (!this.names.includes(name)) this.names.push(name);
    return p;
  }

  /** Moves every staged file into the output folder (replacing older ones) and removes the stage. */
  commit(): string[] {
    const final: string[] = [];
    for (const name of this.names) {
      const dst = path.join(this.outDir, name);
      fs.mkdirSync(path.dirname(dst), { recursive: true });
      fs.renameSync(path.join(this.dir, name), dst);
      final.push(dst);
    }
    this.abort();
    return final;
  }

  /** Removes the stage and everything in it. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    live.delete(this);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Removes every open stage (the CLI's SIGINT/SIGTERM handler calls this before exiting). */
export function abortAllStages(): void {
  for (const s of [...live]) s.abort();
}
