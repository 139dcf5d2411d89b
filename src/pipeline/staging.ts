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
  /** The topmost folder open() created for --out, removed again if nothing is committed. */
  private created: string | undefined;

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

  /**
   * Checks that each of `names` (relative to `outDir`) can be written: nothing that is not a
   * file (a folder, a socket) sits at the path, and no file sits where a parent folder must go.
   * Run up front, before any work, and again before the first move.
   */
  static checkDestinations(outDir: string, names: readonly string[]): void {
    for (const name of names) {
      let dir = outDir;
      for (const part of name.split('/').slice(0, -1)) {
        dir = path.join(dir, part);
        const st = fs.statSync(dir, { throwIfNoEntry: false });
        if (st && !st.isDirectory()) throw new OutputFolderError(`--out ${outDir}: ${dir} is a file where the run needs a folder; move it away`);
      }
      const dst = path.join(outDir, name);
      const st = fs.lstatSync(dst, { throwIfNoEntry: false });
      if (st && !st.isFile()) throw new OutputFolderError(`--out ${outDir}: ${dst} exists and is not a file (a folder?); move it away, the run writes a file there`);
    }
  }

  static open(outDir: string): OutputStage {
    OutputStage.check(outDir);
    const created = fs.mkdirSync(outDir, { recursive: true });
    const s = new OutputStage(outDir);
    s.created = created;
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

  /**
   * Moves every staged file into the output folder and removes the stage: all of them or none.
   * Every destination is checked before the first move; older files in the way are set aside
   * in the stage and put back if a later move fails.
   */
  commit(): string[] {
    try {
      OutputStage.checkDestinations(this.outDir, this.names);
    } catch (e) {
      this.abort();
      throw e;
    }
    const old = path.join(this.dir, '.replaced');
    const moved: { name: string; replaced: boolean }[] = [];
    try {
      for (const name of this.names) {
        const dst = path.join(this.outDir, name);
        fs.mkdirSync(path.dirname(dst), { recursive: true });
        const replaced = fs.existsSync(dst);
        if (replaced) {
          fs.mkdirSync(path.dirname(path.join(old, name)), { recursive: true });
          fs.renameSync(dst, path.join(old, name));
        }
        moved.push({ name, replaced });
        fs.renameSync(path.join(this.dir, name), dst);
      }
    } catch (e) {
      // Undo in reverse: new files back into the stage (then removed), old ones back in place.
      for (const { name, replaced } of moved.reverse()) {
        const dst = path.join(this.outDir, name);
        try {
          if (fs.existsSync(path.join(this.dir, name))) fs.rmSync(path.join(this.dir, name), { force: true });
          else fs.rmSync(dst, { force: true });
          if (replaced) fs.renameSync(path.join(old, name), dst);
        } catch {
          /* best effort: the original error is the one to report */
        }
      }
      this.abort();
      throw e;
    }
    this.created = undefined; // the folder now holds the run's files
    this.abort();
    return this.names.map((n) => path.join(this.outDir, n));
  }

  /** Removes the stage and everything in it, and --out itself when open() created it and it is empty. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    live.delete(this);
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (this.created) removeEmptyUpTo(path.resolve(this.outDir), path.resolve(this.created));
  }
}

/** Removes `dir` and its parents up to `top` while they are empty (what mkdir -p added). */
function removeEmptyUpTo(dir: string, top: string): void {
  for (let d = dir; d.startsWith(top); d = path.dirname(d)) {
    try {
      fs.rmdirSync(d);
    } catch {
      return; // not empty (or gone): leave it
    }
    if (d === top) return;
  }
}

/** Removes every open stage (the CLI's SIGINT/SIGTERM handler calls this before exiting). */
export function abortAllStages(): void {
  for (const s of [...live]) s.abort();
}
