// The layering rules of shared/DESIGN.md, read from the sources: every import points down the
// layer list, the layers that must also run in a browser import nothing of Node and read no
// process state, and per-device state lives in the kernel context, not in module-level maps.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importSpecifiers, tsFilesUnder } from './helpers/imports.ts';

const SRC = path.resolve('src');

/** What each top-level folder of src/ may import (besides itself). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  cli: ['pipeline', 'demo', 'model', 'recon', 'graph', 'kernels', 'runtime', 'io'],
  demo: ['pipeline', 'model', 'recon', 'graph', 'kernels', 'runtime', 'io'],
  pipeline: ['model', 'recon', 'graph', 'kernels', 'runtime', 'io'],
  model: ['graph', 'kernels', 'runtime', 'io'],
  recon: ['graph', 'kernels', 'runtime', 'io'],
  graph: ['kernels', 'runtime', 'io'],
  kernels: ['runtime'],
  runtime: [],
  io: [],
};

/** Single files a layer may import beyond its list: io's errors derive from the one InputError root. */
const MAY_IMPORT_FILES: Record<string, readonly string[]> = { io: ['runtime/errors.ts'] };

/** Layers that take a kernel context and a GPUDevice and must run unchanged in a browser. */
const BROWSER_SAFE = ['kernels', 'graph', 'model', 'recon'];

/** Node-only files of the runtime (the Dawn instance, the tuning store on disk). */
const NODE_FILES = new Set(['runtime/node.ts', 'runtime/tune-cache-node.ts']);

interface Import {
  file: string;
  spec: string;
}

function importsOf(file: string): Import[] {
  return importSpecifiers(readFileSync(file, 'utf8')).map((spec) => ({ file: path.relative(SRC, file), spec }));
}

const layerOf = (rel: string): string => rel.split(path.sep)[0]!;
const files = tsFilesUnder(SRC);

describe('architecture', () => {
  it('finds the imports of the sources it checks', () => {
    expect(files.length).toBeGreaterThan(150);
    expect(importsOf(path.join(SRC, 'demo', 'run.ts')).some((i) => i.spec.includes('pipeline/'))).toBe(true);
  });

  it('every import points down the layer list', () => {
    const wrong: string[] = [];
    for (const f of files) {
      const from = layerOf(path.relative(SRC, f));
      if (!(from in MAY_IMPORT)) continue; // src/index.ts, the browser entry: the public surface
      for (const imp of importsOf(f)) {
        if (!imp.spec.startsWith('.')) continue;
        const target = path.relative(SRC, path.resolve(path.dirname(f), imp.spec));
        const to = layerOf(target);
        if (MAY_IMPORT_FILES[from]?.includes(target.split(path.sep).join('/'))) continue;
        if (to === '..') {
          if (from !== 'cli') wrong.push(`${imp.file} imports ${imp.spec} (outside src/)`); // `egox bench` runs bench/
          continue;
        }
        if (to !== from && !MAY_IMPORT[from]!.includes(to)) wrong.push(`${imp.file} imports ${imp.spec} (${from} -> ${to})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('kernels, graph, model and recon import nothing of Node and read no process state', () => {
    const wrong: string[] = [];
    for (const f of files) {
      const rel = path.relative(SRC, f);
      if (!BROWSER_SAFE.includes(layerOf(rel)) || NODE_FILES.has(rel)) continue;
      for (const imp of importsOf(f)) {
        if (imp.spec.startsWith('node:') || /^(fs|path|os|child_process|url|crypto|worker_threads|stream)(\/|$)/.test(imp.spec)) wrong.push(`${rel} imports ${imp.spec}`);
      }
      if (/\bprocess\.(env|argv|exit|cwd|stdout|stderr|on)\b/.test(readFileSync(f, 'utf8'))) wrong.push(`${rel} reads process state`);
    }
    expect(wrong).toEqual([]);
  });

  it('keeps per-device state out of module-level maps in kernels, graph, model and recon', () => {
    const wrong: string[] = [];
    for (const f of files) {
      const rel = path.relative(SRC, f);
      if (!BROWSER_SAFE.includes(layerOf(rel))) continue;
      for (const line of readFileSync(f, 'utf8').split('\n')) {
        // A map or set at module level, unless typed read-only (a constant table).
        if (/^(export )?(const|let) \w+\s*(:[^=]+)?=\s*new (Weak)?(Map|Set)\b/.test(line) && !/^(export )?(const|let) \w+\s*:\s*Readonly/.test(line)) wrong.push(`${rel}: ${line.trim()}`);
      }
    }
    // Constant tables filled once at load (the prompt cleaner's HTML entities) are not state.
    expect(wrong.filter((w) => !w.startsWith(path.join('model', 'text', 'prompt-clean.ts')))).toEqual([]);
  });
});
