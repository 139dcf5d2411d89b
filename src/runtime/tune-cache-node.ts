// On-disk JSON store for per-adapter tuning results (Node only): ~/.cache/egox/<name>.json.
// Kernels stay browser-safe: they take any object with this shape (src/kernels/tuning/gemm-autotune.ts
// declares the same interface), and a browser can pass a localStorage-backed one.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface JsonStore {
  read(name: string): Promise<unknown | undefined>;
  write(name: string, data: unknown): Promise<void>;
}

/** File names keep to [A-Za-z0-9._-]. */
function fileName(name: string): string {
  return `${name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 180)}.json`;
}

export function defaultCacheDir(): string {
  return process.env.EGOX_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'egox');
}

export function nodeJsonStore(dir = defaultCacheDir()): JsonStore {
  return {
    async read(name) {
      try {
        return JSON.parse(await readFile(join(dir, fileName(name)), 'utf8')) as unknown;
      } catch {
        return undefined; // missing or unreadable: tune again
      }
    },
    async write(name, data) {
      await mkdir(dir, { recursive: true });
      const path = join(dir, fileName(name));
      const tmp = `${path}.${process.pid}.tmp`;
      // Write then rename: a crash never leaves half a file behind.
      await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`);
      await rename(tmp, path);
    },
  };
}
