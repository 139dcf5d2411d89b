/**
 * A checkpoint is one or more safetensors files read as one: a single file, a Hugging Face
 * sharded index (`*.safetensors.index.json` with a `weight_map`), or a folder of either.
 */
import { promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import { FileFormatError } from './format-error.ts';
import { findDuplicateKey } from './json-duplicate-keys.ts';
import { parseJsonBounded } from './json-bounded.ts';
import { readTextFileCheckedAsync } from './text-file.ts';
import { checkRange, SafetensorsFile, type TensorInfo, type TensorSource } from './safetensors.ts';

export type CheckpointKind = 'file' | 'index' | 'folder';

export class Checkpoint implements TensorSource {
  private constructor(
    /** The path as given to open. */
    readonly path: string,
    readonly kind: CheckpointKind,
    /** The open shards, in a stable order (index order of first appearance, or sorted names). */
    readonly files: readonly SafetensorsFile[],
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
    readonly warnings: readonly string[],
  ) {}

  static async open(path: string): Promise<Checkpoint> {
    let stat;
    try {
      stat = await fsp.stat(path);
    } catch (e) {
      throw new FileFormatError(path, `cannot open checkpoint (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    if (stat.isDirectory()) return openFolder(path);
    if (path.endsWith('.json')) return openIndex(path, path, 'index');
    const f = await SafetensorsFile.open(path);
    return new Checkpoint(path, 'file', [f], f.tensors, f.metadata, f.warnings);
  }

  /** Builds a checkpoint from open files; duplicate tensor names are an error. Closes `files` on failure. */
  static async fromFiles(path: string, kind: CheckpointKind, files: SafetensorsFile[],
    only?: ReadonlyMap<string, string>): Promise<Checkpoint> {
    try {
      const tensors = new Map<string, TensorInfo>();
      const metadata: Record<string, string> = {};
      const warnings: string[] = [];
      for (const f of files) {
        for (const w of f.warnings) warnings.push(`${f.path}: ${w}`);
        for (const [k, v] of Object.entries(f.metadata)) if (!(k in metadata)) metadata[k] = v;
        for (const [name, info] of f.tensors) {
          if (only && only.get(name) !== f.path) {
            if (!only.has(name)) warnings.push(`${f.path}: tensor '${name}' is not in the index weight_map; ignored`);
            continue;
          }
          const prev = tensors.get(name);
          if (prev) {
            throw new FileFormatError(path, `tensor '${name}' is in both ${prev.file} and ${f.path}; keep one copy (or pass a single file / index.json)`);
          }
          tensors.set(name, info);
        }
      }
      return new Checkpoint(path, kind, files, tensors, metadata, warnings);
    } catch (e) {
      await Promise.all(files.map((f) => f.close().catch(() => {})));
      throw e;
    }
  }

  private fileOf(name: string): { f: SafetensorsFile; t: TensorInfo } {
    const t = this.tensors.get(name);
    if (!t) throw new FileFormatError(this.path, 'no such tensor in this checkpoint', name);
    return { f: this.files.find((f) => f.path === t.file)!, t };
  }

  async read(name: string): Promise<Uint8Array> {
    return this.fileOf(name).f.read(name);
  }

  async readRange(name: string, byteStart: number, byteLength: number): Promise<Uint8Array> {
    const { f, t } = this.fileOf(name);
    checkRange(t, byteStart, byteLength);
    return f.readRange(name, byteStart, byteLength);
  }

  async *chunks(name: string, chunkBytes: number): AsyncIterable<Uint8Array> {
    yield* this.fileOf(name).f.chunks(name, chunkBytes);
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}

async function openFolder(dir: string): Promise<Checkpoint> {
  const names = (await fsp.readdir(dir)).sort();
  const indexes = names.filter((n) => n.endsWith('.safetensors.index.json'));
  if (indexes.length === 1) return openIndex(dir, nodePath.join(dir, indexes[0]!), 'folder');
  if (indexes.length > 1) {
    throw new FileFormatError(dir, `folder has ${indexes.length} index files (${indexes.join(', ')}); pass the one to use`);
  }
  const shards = names.filter((n) => n.endsWith('.safetensors')).map((n) => nodePath.join(dir, n));
  if (shards.length === 0) throw new FileFormatError(dir, 'folder has no .safetensors files and no *.safetensors.index.json');
  return Checkpoint.fromFiles(dir, 'folder', await openAll(shards));
}

async function openIndex(path: string, indexPath: string, kind: CheckpointKind): Promise<Checkpoint> {
  const fail = (problem: string): never => {
    throw new FileFormatError(indexPath, problem);
  };
  let text: string;
  try {
    text = await readTextFileCheckedAsync(indexPath);
  } catch (e) {
    if (e instanceof FileFormatError) throw e;
    return fail(`cannot read index (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let json: unknown;
  try {
    json = parseJsonBounded(text);
  } catch (e) {
    return fail(`index is not valid JSON (${(e as Error).message})`);
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    return fail("index has no 'weight_map' object (expected a Hugging Face *.safetensors.index.json)");
  }
  const dup = findDuplicateKey(text);
  if (dup && dup.inside === 'weight_map') fail(`tensor '${dup.key}' appears twice in weight_map`);

  const dir = nodePath.dirname(indexPath);
  const owner = new Map<string, string>(); // tensor name -> shard path
  const shardPaths = new Set<string>();
  for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '') fail(`weight_map entry for '${name}' is not a file name`);
    const p = nodePath.join(dir, shard as string);
    shardPaths.add(p);
    owner.set(name, p);
  }
  for (const p of shardPaths) {
    try {
      await fsp.access(p);
    } catch {
      const someTensor = [...owner].find(([, s]) => s === p)![0];
      fail(`weight_map names shard ${nodePath.basename(p)} (for tensor '${someTensor}' and others), but ${p} does not exist`);
    }
  }
  const files = await openAll([...shardPaths]);
  const byPath = new Map(files.map((f) => [f.path, f]));
  for (const [name, p] of owner) {
    const f = byPath.get(p)!;
    if (!f.tensors.has(name)) {
      await Promise.all(files.map((x) => x.close().catch(() => {})));
      fail(`weight_map puts tensor '${name}' in ${nodePath.basename(p)}, but that shard has no such tensor`);
    }
  }
  return Checkpoint.fromFiles(path, kind, files, owner);
}

/** Opens every file; if one fails, closes the others and rethrows its error. */
async function openAll(paths: string[]): Promise<SafetensorsFile[]> {
  const results = await Promise.allSettled(paths.map((p) => SafetensorsFile.open(p)));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.close().catch(() => {}) : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  return results.map((r) => (r as PromiseFulfilledResult<SafetensorsFile>).value);
}
