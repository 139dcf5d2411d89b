/**
 * Loads and validates an EgoX meta.json (the official `{test_datasets: [...]}` format, spec A.1/A.2)
 * and the depth folder of one take. Every problem with user input becomes a one-line MetaError
 * (exitCode 2) naming the file, the take and the field, so the CLI can print it as is.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseJsonBounded } from './json-bounded.ts';
import { readNpy } from './npy.ts';
import { readTextFileChecked } from './text-file.ts';
import { InputError } from '../runtime/errors.ts';

/** Bad meta.json / depth folder: the CLI prints the message and exits 2. */
export class MetaError extends InputError {
  constructor(
    readonly file: string,
    readonly take: string | undefined,
    readonly field: string | undefined,
    problem: string,
  ) {
    const where = [file, take === undefined ? '' : `take '${take}'`, field === undefined ? '' : `field '${field}'`]
      .filter((s) => s !== '')
      .join(': ');
    super(`${where}: ${problem}`.replace(/\s*\n\s*/g, ' '));
  }
}

/** One take of a meta.json, paths resolved, matrices row-major float64. */
export interface EgoxTake {
  /** Folder name holding exo_path (A.1). */
  name: string;
  /** Absolute path of the meta.json it came from. */
  metaPath: string;
  /** Index in `test_datasets`. */
  index: number;
  exoPath: string;
  egoPriorPath: string;
  egoGtPath?: string;
  prompt: string;
  /** Exo pinhole K, 3x3 row-major, pixels of the camera's native grid. */
  exoIntrinsics: Float64Array;
  /** Exo world-to-camera [R|t], 3x4 row-major, OpenCV axes. */
  exoExtrinsics: Float64Array;
  /** Ego K, 3x3 row-major (f = K[0], cx = K[2], cy = K[5]). */
  egoIntrinsics: Float64Array;
  /** Per-frame ego world-to-camera [R|t], each 3x4 row-major, at least `requiredEgoPoses`. */
  egoExtrinsics: Float64Array[];
}

/** A take plus its validated depth folder. */
export interface EgoxTakeWithDepth extends EgoxTake {
  depthDir: string;
  /** Absolute paths of the *.npy files, lexicographically sorted (A.1). */
  depthFiles: string[];
  /** [H, W] shared by every depth file. */
  depthShape: [number, number];
}

export interface MetaOptions {
  /** Minimum number of ego poses per take (default 49). */
  requiredEgoPoses?: number;
}

export interface TakeOptions extends MetaOptions {
  /** Depth folder override; default `<meta dir>/depth_maps/<take>/`. */
  depthDir?: string;
  /** Minimum number of depth files (default 49). */
  requiredDepthFrames?: number;
}

type Json = unknown;

/** Parses and validates every take of a meta.json (no depth access). */
export function loadEgoxMeta(metaPath: string, opts: MetaOptions = {}): EgoxTake[] {
  const file = path.resolve(metaPath);
  const required = opts.requiredEgoPoses ?? 49;
  let text: string;
  try {
    text = readTextFileChecked(file);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new MetaError(file, undefined, undefined, `cannot read meta file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let root: Json;
  try {
    root = parseJsonBounded(withPythonNonFinite(text)) as Json;
  } catch (e) {
    throw new MetaError(file, undefined, undefined, `not valid JSON (${(e as Error).message}); fix the syntax`);
  }
  if (!isObject(root) || !Array.isArray(root['test_datasets'])) {
    throw new MetaError(file, undefined, 'test_datasets', 'missing or not a list; expected {"test_datasets": [ {...}, ... ]}');
  }
  const list = root['test_datasets'] as Json[];
  if (list.length === 0) throw new MetaError(file, undefined, 'test_datasets', 'is empty; add at least one take');
  const baseDir = path.dirname(file);
  return list.map((entry, index) => parseTake(entry, index, file, baseDir, required));
}

/**
 * One take by name (the folder holding exo_path), without touching its depth folder (a take
 * run without geometry needs none). With `take` omitted the meta file must hold exactly one take.
 */
export function findEgoxTake(metaPath: string, take?: string, opts: MetaOptions = {}): EgoxTake {
  const takes = loadEgoxMeta(metaPath, opts);
  const file = path.resolve(metaPath);
  const names = takes.map((t) => t.name).join(', ');
  if (take === undefined) {
    if (takes.length !== 1) {
      throw new MetaError(file, undefined, 'test_datasets', `holds ${takes.length} takes (${names}); choose one by name`);
    }
    return takes[0]!;
  }
  const chosen = takes.find((t) => t.name === take);
  if (!chosen) {
    throw new MetaError(file, take, 'exo_path', `no take with this name (the folder holding exo_path); available: ${names}`);
  }
  return chosen;
}

/** One take by name (see findEgoxTake) with its depth folder validated. */
export function loadEgoxTake(metaPath: string, take?: string, opts: TakeOptions = {}): EgoxTakeWithDepth {
  const t = findEgoxTake(metaPath, take, opts);
  const depthDir = path.resolve(opts.depthDir ?? path.join(path.dirname(t.metaPath), 'depth_maps', t.name));
  const { files, shape } = listDepthFiles(depthDir, t.metaPath, t.name, opts.requiredDepthFrames ?? 49);
  return { ...t, depthDir, depthFiles: files, depthShape: shape };
}

/** A take that comes with depth maps (loadEgoxTake) rather than without (findEgoxTake). */
export function hasDepth(take: EgoxTake): take is EgoxTakeWithDepth {
  return 'depthFiles' in take;
}

/** Reads depth frame `i` of a take as float32 [H, W] (shape already validated at load). */
export function readDepthFrame(take: EgoxTakeWithDepth, i: number): Float32Array {
  const f = take.depthFiles[i];
  if (f === undefined) throw new Error(`depth frame ${i} out of range (0..${take.depthFiles.length - 1})`);
  const a = readNpy(f);
  const [h, w] = take.depthShape;
  if (a.dtype !== 'f4' || a.shape.length !== 2 || a.shape[0] !== h || a.shape[1] !== w) {
    throw new MetaError(take.metaPath, take.name, 'depth', `${f} changed since load: now ${a.dtype} [${a.shape.join(', ')}], expected f4 [${h}, ${w}]`);
  }
  return a.data as Float32Array;
}

function listDepthFiles(dir: string, metaFile: string, take: string, required: number): { files: string[]; shape: [number, number] } {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw new MetaError(metaFile, take, 'depth', `cannot read depth folder ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)}); give the folder of <frame>.npy files`);
  }
  // Plain code-unit sort = Python's sorted() on ASCII names, which infer.py uses.
  const files = names.filter((n) => n.endsWith('.npy')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((n) => path.join(dir, n));
  if (files.length < required) {
    throw new MetaError(metaFile, take, 'depth', `${dir} holds ${files.length} .npy files, need at least ${required}`);
  }
  let shape: [number, number] | undefined;
  for (const f of files) {
    // readNpy throws its own exitCode-2 error naming the file for a malformed .npy.
    const a = readNpy(f);
    if (a.dtype !== 'f4') {
      throw new MetaError(metaFile, take, 'depth', `${f} has dtype ${a.dtype}; depth maps must be float32 (np.float32)`);
    }
    if (a.shape.length !== 2) {
      throw new MetaError(metaFile, take, 'depth', `${f} has shape [${a.shape.join(', ')}]; depth maps must be [H, W]`);
    }
    if (shape === undefined) shape = [a.shape[0]!, a.shape[1]!];
    else if (a.shape[0] !== shape[0] || a.shape[1] !== shape[1]) {
      throw new MetaError(metaFile, take, 'depth', `${f} has shape [${a.shape.join(', ')}] but ${files[0]} has [${shape.join(', ')}]; all depth maps must share one shape`);
    }
    const usable = usableDepthShare(a.data as Float32Array);
    if (usable < MIN_USABLE_DEPTH) {
      throw new MetaError(metaFile, take, 'depth', `${f}: only ${(usable * 100).toFixed(1)}% of the pixels hold a finite positive depth (NaN, infinite or <= 0 elsewhere); the depth estimation failed for this frame, rerun it`);
    }
  }
  return { files, shape: shape! };
}

/** Below this share of finite positive depths a map holds no geometry to render (a failed estimate). */
const MIN_USABLE_DEPTH = 0.01;

function usableDepthShare(d: Float32Array): number {
  let ok = 0;
  for (let i = 0; i < d.length; i++) if (d[i]! > 0 && d[i]! < Infinity) ok++;
  return d.length === 0 ? 0 : ok / d.length;
}

function parseTake(entry: Json, index: number, file: string, baseDir: string, requiredPoses: number): EgoxTake {
  const label = `test_datasets[${index}]`;
  if (!isObject(entry)) throw new MetaError(file, label, undefined, 'is not an object');
  // The take name comes first so every later error can name it.
  const exoRaw = entry['exo_path'];
  if (typeof exoRaw !== 'string' || exoRaw === '') {
    throw new MetaError(file, label, 'exo_path', 'missing or not a string; give the path of exo.mp4');
  }
  const name = path.basename(path.dirname(exoRaw.replace(/\\/g, '/')));
  if (name === '' || name === '.' || name === '..') {
    throw new MetaError(file, label, 'exo_path', `'${exoRaw}' has no parent folder; the take name is the folder holding exo.mp4`);
  }
  const fail = (field: string, problem: string): never => {
    throw new MetaError(file, name, field, problem);
  };
  const str = (field: string, optional: boolean): string | undefined => {
    const v = entry[field];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string') return fail(field, v === undefined ? 'missing; it is required' : `must be a string, got ${typeName(v)}`);
    return v;
  };
  const resolve = (p: string): string => path.resolve(baseDir, p);
  const egoGt = str('ego_gt_path', true);
  const take: EgoxTake = {
    name,
    metaPath: file,
    index,
    exoPath: resolve(exoRaw),
    egoPriorPath: resolve(str('ego_prior_path', false)!),
    prompt: str('prompt', false)!,
    exoIntrinsics: matrix(entry['camera_intrinsics'], 3, 3, 'camera_intrinsics', fail),
    exoExtrinsics: matrix(entry['camera_extrinsics'], 3, 4, 'camera_extrinsics', fail),
    egoIntrinsics: matrix(entry['ego_intrinsics'], 3, 3, 'ego_intrinsics', fail),
    egoExtrinsics: [],
  };
  if (egoGt !== undefined) take.egoGtPath = resolve(egoGt);
  const poses = entry['ego_extrinsics'];
  if (!Array.isArray(poses)) fail('ego_extrinsics', poses === undefined ? 'missing; give a list of 3x4 world-to-camera matrices' : `must be a list of 3x4 matrices, got ${typeName(poses)}`);
  const list = poses as Json[];
  if (list.length < requiredPoses) fail('ego_extrinsics', `has ${list.length} poses, need at least ${requiredPoses} (one 3x4 per frame)`);
  take.egoExtrinsics = list.map((m, i) => matrix(m, 3, 4, `ego_extrinsics[${i}]`, fail));
  checkIntrinsics(take.exoIntrinsics, 'camera_intrinsics', fail);
  checkIntrinsics(take.egoIntrinsics, 'ego_intrinsics', fail);
  return take;
}

function checkIntrinsics(k: Float64Array, field: string, fail: (f: string, p: string) => never): void {
  // fx, fy and the principal point divide things later (A.4 rescale divides by cx, cy).
  if (k[0] === 0 || k[4] === 0) fail(field, 'has a zero focal length (K[0][0] or K[1][1])');
  if (k[2] === 0 || k[5] === 0) fail(field, 'has a zero principal point (K[0][2] or K[1][2])');
}

function matrix(v: Json, rows: number, cols: number, field: string, fail: (f: string, p: string) => never): Float64Array {
  const want = `${rows}x${cols}`;
  if (v === undefined) return fail(field, `missing; give a ${want} matrix`);
  if (!Array.isArray(v) || v.length !== rows || !v.every((r) => Array.isArray(r))) {
    return fail(field, `must be a ${want} matrix (list of ${rows} rows), got ${shapeOf(v)}`);
  }
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = v[r] as Json[];
    if (row.length !== cols) return fail(field, `must be a ${want} matrix, got ${shapeOf(v)}`);
    for (let c = 0; c < cols; c++) {
      const x = row[c];
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        const what = typeof x === 'string' && x.startsWith(NON_FINITE) ? x.slice(NON_FINITE.length) : typeName(x);
        return fail(field, `element [${r}][${c}] is ${what}; all entries must be finite numbers`);
      }
      out[r * cols + c] = x;
    }
  }
  return out;
}

const NON_FINITE = '\u0000nonfinite:';

/**
 * Python's json.dump writes NaN / Infinity / -Infinity, which JSON.parse rejects. Turn those bare
 * tokens (outside strings) into marker strings so the matrix check can name the bad element.
 */
function withPythonNonFinite(text: string): string {
  // One pass over the text (a regex that skips strings backtracks quadratically on an
  // unterminated run of escaped quotes): copy strings as they are, rewrite bare tokens.
  const parts: string[] = [];
  let copied = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < n && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
      continue;
    }
    const token = c === 0x4e /* N */ ? 'NaN' : c === 0x49 /* I */ ? 'Infinity' : c === 0x2d /* - */ && text.charCodeAt(i + 1) === 0x49 ? '-Infinity' : '';
    if (token === '' || !text.startsWith(token, i) || isWordChar(text.charCodeAt(i - 1)) || isWordChar(text.charCodeAt(i + token.length))) continue;
    parts.push(text.slice(copied, i), JSON.stringify(NON_FINITE + token));
    i += token.length - 1;
    copied = i + 1;
  }
  parts.push(text.slice(copied));
  return parts.join('');
}

function isWordChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

function shapeOf(v: Json): string {
  if (!Array.isArray(v)) return typeName(v);
  const inner = v.map((r) => (Array.isArray(r) ? String(r.length) : typeName(r)));
  const same = inner.every((s) => s === inner[0]);
  return same && inner.length > 0 ? `${v.length}x${inner[0]}` : `${v.length} rows of [${inner.join(', ')}]`;
}

function typeName(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'string' ? 'a string' : typeof v;
}

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
