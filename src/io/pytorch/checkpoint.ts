/**
 * A PyTorch checkpoint (torch.save: `.pt`, `.pth`, `pytorch_model.bin`) read like a safetensors
 * file: opening runs the restricted unpickler over the object pickle only; tensor bytes are read
 * on demand from their storage's position in the file.
 *
 * Layouts: the zip archive (torch >= 1.6: `<archive>/data.pkl` with persistent ids naming
 * `<archive>/data/<key>`), and the legacy stream (`_use_new_zipfile_serialization=False`: magic
 * number, protocol version and sys_info pickles, the object pickle, the list of storage keys, then
 * each storage as an 8-byte element count and its raw bytes).
 */
import { promises as fsp } from 'node:fs';
import { FileFormatError } from '../format-error.ts';
import { checkRange, readExact, type TensorInfo, type TensorSource } from '../safetensors.ts';
import { ST_ITEM_SIZE, type StDtype } from '../safetensors-dtype.ts';
import { PickleError, unpickle } from './pickle.ts';
import { findStateDict, StateDictError, type JsonLike } from './state-dict.ts';
import { TensorRef, torchPolicy, type Storage, type StoragePid } from './torch-pickle.ts';
import { entryDataOffset, looksLikeZip, readZipDirectory, type ZipEntry } from './zip.ts';

export type PytorchLayout = 'zip' | 'legacy';

/** The object pickle may be at most this long: a state dict's costs ~100 bytes per tensor. */
export const MAX_PICKLE_BYTES = 64 * 1024 * 1024;

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** A root storage's place in the file. */
interface StorageData {
  dtype: StDtype;
  numel: number;
  /** File position of element 0 (known once the layout has been read). */
  fileOffset: number;
}

interface TensorView {
  ref: TensorRef;
  /** File position of storage element 0 of the tensor's (root) storage. */
  storageStart: number;
  contiguous: boolean;
}

export class PytorchCheckpoint implements TensorSource {
  private constructor(
    readonly path: string,
    private readonly handle: fsp.FileHandle,
    readonly layout: PytorchLayout,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    private readonly views: ReadonlyMap<string, TensorView>,
    /** Keys from the top level to the state dict ([] when it is the top level). */
    readonly stateDictPath: readonly string[],
    /** The top-level entries besides the state dict (e.g. model_config), as JSON-like values. */
    readonly entries: Readonly<Record<string, JsonLike>>,
  ) {}

  readonly warnings: readonly string[] = [];

  get metadata(): Readonly<Record<string, string>> {
    return { format: `pytorch ${this.layout}`, state_dict: this.stateDictPath.join('.') || '(top level)' };
  }

  static async open(path: string): Promise<PytorchCheckpoint> {
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(path, 'r');
    } catch (e) {
      throw new FileFormatError(path, `cannot open PyTorch checkpoint (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    try {
      return await PytorchCheckpoint.fromHandle(path, handle);
    } catch (e) {
      await handle.close().catch(() => {});
      if (e instanceof PickleError || e instanceof StateDictError) throw new FileFormatError(path, e.message);
      throw e;
    }
  }

  private static async fromHandle(path: string, handle: fsp.FileHandle): Promise<PytorchCheckpoint> {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new FileFormatError(path, 'is not a regular file; expected a .pt/.pth checkpoint');
    const size = stat.size;
    if (size < 8) throw new FileFormatError(path, `file is only ${size} bytes; not a PyTorch checkpoint`);
    const head = await readExact(handle, path, 0, 8);
    let layout: PytorchLayout;
    let top: unknown;
    let storages: Map<string, StorageData>;
    if (looksLikeZip(head)) {
      layout = 'zip';
      ({ top, storages } = await readZipLayout(handle, path, size));
    } else if (head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) {
      layout = 'legacy';
      ({ top, storages } = await readLegacyLayout(handle, path, size));
    } else {
      throw new FileFormatError(path, 'is neither a zip archive nor a pickle stream; not a PyTorch checkpoint written by torch.save');
    }
    const found = findStateDict(top);
    const tensors = new Map<string, TensorInfo>();
    const views = new Map<string, TensorView>();
    for (const [name, ref] of found.tensors) {
      const data = storages.get(ref.storage.key)!;
      const { numel, contiguous } = checkView(path, size, name, ref);
      const item = ST_ITEM_SIZE[ref.storage.dtype];
      const storageStart = data.fileOffset + ref.storage.rootOffset * item;
      tensors.set(name, {
        name, dtype: ref.storage.dtype, shape: [...ref.shape], byteLength: numel * item,
        file: path, fileOffset: storageStart + ref.offset * item,
      });
      views.set(name, { ref, storageStart, contiguous });
    }
    return new PytorchCheckpoint(path, handle, layout, tensors, views, found.path, found.entries);
  }

  private view(name: string): { t: TensorInfo; v: TensorView } {
    const t = this.tensors.get(name);
    if (!t) throw new FileFormatError(this.path, 'no such tensor in this checkpoint', name);
    return { t, v: this.views.get(name)! };
  }

  async read(name: string): Promise<Uint8Array> {
    const { t, v } = this.view(name);
    if (v.contiguous) return readExact(this.handle, this.path, t.fileOffset, t.byteLength);
    return gather(v.ref, await this.readSpan(v, t));
  }

  async readRange(name: string, byteStart: number, byteLength: number): Promise<Uint8Array> {
    const { t, v } = this.view(name);
    checkRange(t, byteStart, byteLength);
    if (v.contiguous) return readExact(this.handle, this.path, t.fileOffset + byteStart, byteLength);
    return (await this.read(name)).slice(byteStart, byteStart + byteLength);
  }

  async *chunks(name: string, chunkBytes: number): AsyncIterable<Uint8Array> {
    const { t, v } = this.view(name);
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) {
      throw new RangeError(`chunks: chunkBytes must be a positive integer, got ${chunkBytes}`);
    }
    // A strided view is gathered once, then cut; a contiguous one streams from the file.
    const whole = v.contiguous ? null : await this.read(name);
    for (let at = 0; at < t.byteLength; at += chunkBytes) {
      const n = Math.min(chunkBytes, t.byteLength - at);
      yield whole ? whole.slice(at, at + n) : await readExact(this.handle, this.path, t.fileOffset + at, n);
    }
  }

  /** The storage bytes from the view's first element to its last. */
  private async readSpan(v: TensorView, t: TensorInfo): Promise<Uint8Array> {
    if (t.byteLength === 0) return new Uint8Array(0);
    const item = ST_ITEM_SIZE[t.dtype];
    const last = v.ref.shape.reduce((s, n, i) => s + (n - 1) * v.ref.stride[i]!, 0);
    return readExact(this.handle, this.path, t.fileOffset, (last + 1) * item);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * A view may repeat storage elements (stride 0, as torch.save keeps expanded tensors), so its
 * gathered size can exceed the file; beyond the file size it may be at most this big.
 */
export const MAX_EXPANDED_BYTES = 64 * 1024 * 1024;

/** Checks a view against its storage and the file: element count, last element inside, size, contiguity. */
function checkView(path: string, fileSize: number, name: string, ref: TensorRef): { numel: number; contiguous: boolean } {
  let numel = 1;
  for (const n of ref.shape) {
    numel *= n;
    if (!Number.isSafeInteger(numel)) throw new FileFormatError(path, `size [${ref.shape.join(', ')}] has more elements than any file holds`, name);
  }
  let contiguous = true;
  let expect = 1;
  let last = ref.offset;
  for (let i = ref.shape.length - 1; i >= 0; i--) {
    const n = ref.shape[i]!;
    if (n !== 1 && ref.stride[i] !== expect) contiguous = false;
    expect *= n;
    last += (n - 1) * ref.stride[i]!;
  }
  if (numel > 0 && (!Number.isSafeInteger(last) || last >= ref.storage.numel)) {
    throw new FileFormatError(path, `view (offset ${ref.offset}, size [${ref.shape.join(', ')}], stride [${ref.stride.join(', ')}]) reaches element ${last} of storage '${ref.storage.key}', which has ${ref.storage.numel}`, name);
  }
  const bytes = numel * ST_ITEM_SIZE[ref.storage.dtype];
  if (bytes > fileSize && bytes > MAX_EXPANDED_BYTES) {
    throw new FileFormatError(path, `view of size [${ref.shape.join(', ')}] repeats its storage into ${bytes} bytes, more than the whole file (${fileSize}) and the ${MAX_EXPANDED_BYTES}-byte limit for expanded tensors`, name);
  }
  return { numel, contiguous: contiguous || numel === 0 };
}

/** Copies a strided view out of `span` (storage bytes starting at the view's offset) into row-major order. */
function gather(ref: TensorRef, span: Uint8Array): Uint8Array {
  const item = ST_ITEM_SIZE[ref.storage.dtype];
  // Copy whole elements as 1-, 2- or 4-byte words (`span` is a fresh, aligned buffer).
  const word = Math.min(item, 4);
  const per = item / word;
  const Words = word === 4 ? Uint32Array : word === 2 ? Uint16Array : Uint8Array;
  const numel = ref.shape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(numel * item);
  const src = new Words(span.buffer as ArrayBuffer, span.byteOffset, span.byteLength / word);
  const dst = new Words(out.buffer, 0, out.byteLength / word);
  const rank = ref.shape.length;
  const idx = new Array<number>(rank).fill(0);
  let at = 0;
  for (let e = 0; e < numel; e++) {
    for (let k = 0; k < per; k++) dst[e * per + k] = src[at * per + k]!;
    for (let d = rank - 1; d >= 0; d--) {
      at += ref.stride[d]!;
      if (++idx[d]! < ref.shape[d]!) break;
      at -= ref.stride[d]! * ref.shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/** Records each root storage the pickle names; refuses dtype clashes and views in the zip layout. */
function storageRegistry(allowViews: boolean, checkRoot: (pid: StoragePid) => void) {
  const roots = new Map<string, { dtype: StDtype; numel: number }>();
  const load = (pid: StoragePid): Storage => {
    const dtype = pid.type.dtype;
    const prev = roots.get(pid.key);
    if (prev && (prev.dtype !== dtype || prev.numel !== pid.numel)) {
      throw new PickleError(`storage '${pid.key}' is named both as ${prev.numel} ${prev.dtype} and as ${pid.numel} ${dtype} elements`);
    }
    if (!prev) {
      checkRoot(pid);
      roots.set(pid.key, { dtype, numel: pid.numel });
    }
    if (!pid.view) return { key: pid.key, dtype, numel: pid.numel, rootOffset: 0 };
    if (!allowViews) throw new PickleError(`storage '${pid.key}' has a view description, which the zip format never writes`);
    if (pid.view.offset + pid.view.numel > pid.numel) {
      throw new PickleError(`storage view '${pid.view.key}' [${pid.view.offset}, +${pid.view.numel}) is outside storage '${pid.key}' of ${pid.numel} elements`);
    }
    return { key: pid.key, dtype, numel: pid.view.numel, rootOffset: pid.view.offset };
  };
  return { roots, load };
}

async function readZipLayout(handle: fsp.FileHandle, path: string, size: number): Promise<{ top: unknown; storages: Map<string, StorageData> }> {
  const dir = await readZipDirectory(handle, path, size);
  const pkls = [...dir.keys()].filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (pkls.length !== 1) {
    throw new FileFormatError(path, pkls.length === 0 ? "archive has no 'data.pkl'; not a torch.save checkpoint" : `archive has ${pkls.length} data.pkl entries; expected one`);
  }
  const prefix = pkls[0]!.slice(0, -'data.pkl'.length);
  const byteorder = dir.get(`${prefix}byteorder`);
  if (byteorder) {
    const text = new TextDecoder().decode(await readEntry(handle, path, size, byteorder, 16));
    if (text !== 'little') throw new FileFormatError(path, `checkpoint was written with byte order '${text.slice(0, 16)}'; egox reads little-endian checkpoints only`);
  }
  const pickle = await readEntry(handle, path, size, dir.get(pkls[0]!)!, MAX_PICKLE_BYTES);
  const entryOf = (key: string): ZipEntry => {
    const e = dir.get(`${prefix}data/${key}`);
    if (!e) throw new PickleError(`storage '${key}' has no entry '${prefix}data/${key}' in the archive; truncated or damaged`);
    return e;
  };
  const reg = storageRegistry(false, (pid) => {
    const bytes = pid.numel * ST_ITEM_SIZE[pid.type.dtype];
    const e = entryOf(pid.key);
    if (e.size < bytes) {
      throw new PickleError(`storage '${pid.key}' holds ${e.size} bytes, less than its ${pid.numel} ${pid.type.dtype} elements need (${bytes}); the archive is truncated or damaged`);
    }
  });
  const { value: top, end } = unpickle(pickle, torchPolicy(reg.load));
  if (end !== pickle.length) throw new FileFormatError(path, `data.pkl has ${pickle.length - end} bytes after its STOP opcode; damaged`);
  const storages = new Map<string, StorageData>();
  for (const [key, r] of reg.roots) {
    storages.set(key, { ...r, fileOffset: await entryDataOffset(handle, path, size, entryOf(key)) });
  }
  return { top, storages };
}

async function readEntry(handle: fsp.FileHandle, path: string, size: number, e: ZipEntry, limit: number): Promise<Uint8Array> {
  if (e.size > limit) throw new FileFormatError(path, `archive entry '${e.name}' is ${e.size} bytes, over the ${limit}-byte limit for it`);
  return readExact(handle, path, await entryDataOffset(handle, path, size, e), e.size);
}

/** First read of a legacy file's head; doubled while its pickles run past it. */
const LEGACY_FIRST_READ = 1 << 20;

async function readLegacyLayout(handle: fsp.FileHandle, path: string, size: number): Promise<{ top: unknown; storages: Map<string, StorageData> }> {
  for (let headLen = Math.min(size, LEGACY_FIRST_READ); ; headLen = Math.min(size, MAX_PICKLE_BYTES, headLen * 2)) {
    const head = await readExact(handle, path, 0, headLen);
    try {
      return await readLegacyPickles(handle, path, size, head);
    } catch (e) {
      // The pickles must all lie in the head: a pickle cut off by it is too big or truncated.
      if (!(e instanceof PickleError && /runs past the end/.test(e.message)) || headLen === size) throw e;
      if (headLen >= MAX_PICKLE_BYTES) {
        throw new FileFormatError(path, `the pickles at the start are longer than the ${MAX_PICKLE_BYTES}-byte limit; not a checkpoint written by torch.save`);
      }
    }
  }
}

async function readLegacyPickles(handle: fsp.FileHandle, path: string, size: number, head: Uint8Array): Promise<{ top: unknown; storages: Map<string, StorageData> }> {
  const reg = storageRegistry(true, () => {});
  const refuse = (what: string): never => {
    throw new FileFormatError(path, `${what}; not a checkpoint written by torch.save`);
  };
  const run = (at: number, policy: Parameters<typeof unpickle>[1]) => unpickle(head, policy, at);
  const plain = torchPolicy(() => {
    throw new PickleError('a header pickle refers to a storage');
  });
  const magic = run(0, plain);
  if (magic.value !== LEGACY_MAGIC) refuse('the pickle stream does not start with the torch.save magic number');
  const proto = run(magic.end, plain);
  if (proto.value !== LEGACY_PROTOCOL) refuse(`legacy protocol version ${String(proto.value)} is not ${LEGACY_PROTOCOL}`);
  const sys = run(proto.end, plain);
  if (!(sys.value instanceof Map) || sys.value.get('little_endian') !== true) refuse('sys_info is missing or says big-endian; egox reads little-endian checkpoints only');
  const obj = run(sys.end, torchPolicy(reg.load));
  const keys = run(obj.end, plain);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) refuse('the storage key list is not a list of strings');

  const storages = new Map<string, StorageData>();
  let at = keys.end;
  for (const key of keys.value as string[]) {
    const root = reg.roots.get(key);
    if (!root) refuse(`storage key list names '${key}', which the object pickle never uses`);
    if (at + 8 > size) throw new FileFormatError(path, `storage '${key}' begins past the end of the file (${size} bytes); the file is truncated`);
    const count = new DataView((await readExact(handle, path, at, 8)).buffer).getBigUint64(0, true);
    if (count !== BigInt(root!.numel)) {
      throw new FileFormatError(path, `storage '${key}' records ${count} elements but the pickle says ${root!.numel}; damaged`);
    }
    const bytes = root!.numel * ST_ITEM_SIZE[root!.dtype];
    if (at + 8 + bytes > size) throw new FileFormatError(path, `storage '${key}' (${bytes} bytes at byte ${at + 8}) runs past the end of the file (${size} bytes); the file is truncated`);
    storages.set(key, { ...root!, fileOffset: at + 8 });
    at += 8 + bytes;
  }
  for (const key of reg.roots.keys()) if (!storages.has(key)) refuse(`storage '${key}' is used but missing from the storage key list`);
  return { top: obj.value, storages };
}
