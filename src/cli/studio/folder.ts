// The one folder `egox studio DIR` may touch. Every path the server reads or writes is resolved
// to its real path (symlinks followed) and must lie inside the folder's real path; a file that
// does not exist yet is judged by its parent folder's real path.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../../runtime/errors.ts';

export class StudioFolderError extends InputError {}

/** A request for a path outside the studio folder (HTTP 403, nothing read or written). */
export class OutsideFolderError extends Error {
  constructor(readonly requested: string) {
    super(`${requested} is outside the studio folder`);
  }
}

export class StudioFolder {
  private constructor(
    /** Real path of the folder. */
    readonly root: string,
    /** Real path of its meta.json. */
    readonly metaPath: string,
  ) {}

  /** DIR is a folder holding meta.json, or a meta.json file (its folder is the studio folder). */
  static open(dir: string): StudioFolder {
    let real: string;
    try {
      real = fs.realpathSync(dir);
    } catch {
      throw new StudioFolderError(`studio: ${dir} does not exist; give a take folder (holding meta.json) or a meta.json`);
    }
    const isFile = fs.statSync(real).isFile();
    const root = isFile ? path.dirname(real) : real;
    const meta = isFile ? real : path.join(root, 'meta.json');
    if (!fs.existsSync(meta)) throw new StudioFolderError(`studio: ${dir} holds no meta.json; give a take folder (holding meta.json) or a meta.json`);
    const folder = new StudioFolder(root, fs.realpathSync(meta));
    folder.resolve(folder.metaPath);
    return folder;
  }

  /** The real path of `p` (absolute, or relative to the folder) if it lies inside; else throws OutsideFolderError. */
  resolve(p: string): string {
    const abs = path.resolve(this.root, p);
    let real: string;
    if (fs.existsSync(abs)) {
      real = fs.realpathSync(abs);
    } else {
      const parent = path.dirname(abs);
      if (!fs.existsSync(parent)) throw new OutsideFolderError(p);
      real = path.join(fs.realpathSync(parent), path.basename(abs));
    }
    if (real !== this.root && !real.startsWith(this.root + path.sep)) throw new OutsideFolderError(p);
    return real;
  }

  contains(p: string): boolean {
    try {
      this.resolve(p);
      return true;
    } catch (e) {
      if (e instanceof OutsideFolderError) return false;
      throw e;
    }
  }
}
