/**
 * safetensors writer. The header layout is built separately (buildSafetensorsHeader) so a tool
 * can stream huge tensors after it without holding them; writeSafetensors writes atomically.
 */
import { promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import { isStDtype, ST_ITEM_SIZE, type StDtype } from './safetensors-dtype.ts';

export interface TensorSpec {
  dtype: StDtype;
  shape: number[];
}

export interface TensorToWrite extends TensorSpec {
  /** Little-endian element bytes: F16/BF16 as Uint16Array bits, I64 as BigInt64Array, BOOL as Uint8Array... */
  data: ArrayBufferView;
}

export interface SafetensorsLayout {
  /** The 8-byte length followed by the space-padded JSON header. */
  prefix: Uint8Array;
  /** Tensor names in the order their bytes follow the prefix (sorted by name). */
  order: string[];
  /** Byte length of each tensor, by name. */
  byteLengths: Map<string, number>;
  /** Total file size. */
  fileSize: number;
}

export function tensorByteLength(name: string, spec: TensorSpec): number {
  if (!isStDtype(spec.dtype)) throw new Error(`safetensors writer: tensor '${name}' has unknown dtype ${String(spec.dtype)}`);
  let count = 1;
  for (const d of spec.shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`safetensors writer: tensor '${name}' has bad dimension ${d}`);
    count *= d;
  }
  const n = count * ST_ITEM_SIZE[spec.dtype];
  if (!Number.isSafeInteger(n)) throw new Error(`safetensors writer: tensor '${name}' is too large`);
  return n;
}

/** Lays out tensors in name order and encodes the header, padded with spaces to 8-byte alignment. */
export function buildSafetensorsHeader(
  specs: Record<string, TensorSpec>,
  metadata?: Record<string, string>,
): SafetensorsLayout {
  const order = Object.keys(specs).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors writer: metadata '${k}' must be a string`);
    }
    header.__metadata__ = metadata;
  }
  const byteLengths = new Map<string, number>();
  let offset = 0;
  for (const name of order) {
    if (name === '__metadata__') throw new Error("safetensors writer: '__metadata__' is reserved, not a tensor name");
    const spec = specs[name]!;
    const n = tensorByteLength(name, spec);
    header[name] = { dtype: spec.dtype, shape: spec.shape, data_offsets: [offset, offset + n] };
    byteLengths.set(name, n);
    offset += n;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad so the data section starts 8-byte aligned (the 8-byte length keeps that alignment).
  const headerLen = Math.ceil(json.length / 8) * 8;
  const prefix = new Uint8Array(8 + headerLen).fill(0x20, 8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerLen), true);
  prefix.set(json, 8);
  return { prefix, order, byteLengths, fileSize: prefix.length + offset };
}

/** A temp path next to `path`, so the final rename stays on one file system. */
export function tempPathFor(path: string): string {
  const dir = nodePath.dirname(path);
  const rnd = Math.random().toString(36).slice(2, 10);
  return nodePath.join(dir, `.${nodePath.basename(path)}.${process.pid}.${rnd}.tmp`);
}

export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Promise<void> {
  const layout = buildSafetensorsHeader(tensors, metadata);
  for (const name of layout.order) {
    const t = tensors[name]!;
    if (t.data.byteLength !== layout.byteLengths.get(name)) {
      throw new Error(`safetensors writer: tensor '${name}' has ${t.data.byteLength} data bytes, `
        + `${t.dtype} [${t.shape.join(', ')}] needs ${layout.byteLengths.get(name)}`);
    }
  }
  const tmp = tempPathFor(path);
  const fh = await fsp.open(tmp, 'w');
  try {
    let pos = 0;
    const put = async (bytes: Uint8Array): Promise<void> => {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, pos + done);
        done += bytesWritten;
      }
      pos += bytes.length;
    };
    await put(layout.prefix);
    for (const name of layout.order) {
      const d = tensors[name]!.data;
      await put(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    await fh.close();
    await fsp.rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}
