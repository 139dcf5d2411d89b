/**
 * The central directory of a ZIP / ZIP64 archive read from an open file, and the data position
 * of a stored (uncompressed) entry. Only what torch.save writes is needed: stored entries, no
 * encryption, no spanning. Every offset and size is checked against the file length.
 */
import type { promises as fsp } from 'node:fs';
import { FileFormatError } from '../format-error.ts';
import { readExact } from '../safetensors.ts';

export interface ZipEntry {
  name: string;
  /** 0 = stored; anything else is refused when the entry is read. */
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
/** End-of-central-directory record (22 bytes) plus the longest comment. */
const EOCD_SEARCH = 22 + 0xffff;
/** A checkpoint's directory: a few hundred bytes per tensor; 256 MiB is far beyond any real one. */
const MAX_DIRECTORY_BYTES = 256 * 1024 * 1024;

/** True when the file starts like a ZIP archive (local file header or empty-archive EOCD). */
export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5);
}

/** Reads the central directory: entries by name, in archive order. */
export async function readZipDirectory(handle: fsp.FileHandle, path: string, fileSize: number): Promise<Map<string, ZipEntry>> {
  const fail = (problem: string): never => {
    throw new FileFormatError(path, `${problem}; the archive is truncated or not a torch.save checkpoint`);
  };
  const tailLen = Math.min(fileSize, EOCD_SEARCH);
  const tail = await readExact(handle, path, fileSize - tailLen, tailLen);
  const tv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD_SIG) { eocd = i; break; }
  }
  if (eocd < 0) fail('no ZIP end-of-central-directory record');
  let count: number = tv.getUint16(eocd + 10, true);
  let dirSize: number = tv.getUint32(eocd + 12, true);
  let dirOffset: number = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    // ZIP64: a locator 20 bytes before the record points at the 64-bit end record.
    const loc = eocd - 20;
    if (loc < 0 || tv.getUint32(loc, true) !== EOCD64_LOCATOR_SIG) fail('ZIP64 sizes without a ZIP64 locator');
    const rec64At = safe(tv.getBigUint64(loc + 8, true), fail);
    if (rec64At + 56 > fileSize) fail(`ZIP64 end record at byte ${rec64At} is past the end of the file (${fileSize} bytes)`);
    const rec = new DataView((await readExact(handle, path, rec64At, 56)).buffer);
    if (rec.getUint32(0, true) !== EOCD64_SIG) fail('bad ZIP64 end record signature');
    count = safe(rec.getBigUint64(32, true), fail);
    dirSize = safe(rec.getBigUint64(40, true), fail);
    dirOffset = safe(rec.getBigUint64(48, true), fail);
  }
  if (dirOffset + dirSize > fileSize) fail(`central directory [${dirOffset}, +${dirSize}) runs past the end of the file (${fileSize} bytes)`);
  if (dirSize > MAX_DIRECTORY_BYTES) fail(`central directory of ${dirSize} bytes is over the ${MAX_DIRECTORY_BYTES / 2 ** 20} MiB limit`);
  if (count * 46 > dirSize) fail(`central directory of ${dirSize} bytes cannot hold ${count} entries`);

  const dir = await readExact(handle, path, dirOffset, dirSize);
  const dv = new DataView(dir.buffer);
  const entries = new Map<string, ZipEntry>();
  const utf8 = new TextDecoder();
  let at = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > dirSize || dv.getUint32(at, true) !== CENTRAL_SIG) fail(`central directory entry ${n} is damaged`);
    const flags = dv.getUint16(at + 8, true);
    const method = dv.getUint16(at + 10, true);
    let compressedSize: number = dv.getUint32(at + 20, true);
    let size: number = dv.getUint32(at + 24, true);
    const nameLen = dv.getUint16(at + 28, true);
    const extraLen = dv.getUint16(at + 30, true);
    const commentLen = dv.getUint16(at + 32, true);
    let localHeaderOffset: number = dv.getUint32(at + 42, true);
    const end = at + 46 + nameLen + extraLen + commentLen;
    if (end > dirSize) fail(`central directory entry ${n} runs past the directory`);
    const name = utf8.decode(dir.subarray(at + 46, at + 46 + nameLen));
    if (flags & 1) fail(`entry '${name}' is encrypted`);
    // ZIP64 extra field: 64-bit values for exactly the 32-bit fields that read 0xffffffff.
    for (let e = at + 46 + nameLen; e + 4 <= at + 46 + nameLen + extraLen;) {
      const id = dv.getUint16(e, true);
      const len = dv.getUint16(e + 2, true);
      if (id === 1) {
        let p = e + 4;
        const next = (): number => {
          if (p + 8 > e + 4 + len) fail(`entry '${name}' has a short ZIP64 extra field`);
          const v = safe(dv.getBigUint64(p, true), fail);
          p += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
      }
      e += 4 + len;
    }
    if (localHeaderOffset + 30 + compressedSize > fileSize) {
      fail(`entry '${name}' (${compressedSize} bytes at byte ${localHeaderOffset}) runs past the end of the file (${fileSize} bytes)`);
    }
    if (entries.has(name)) fail(`entry '${name}' appears twice`);
    entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
    at = end;
  }
  return entries;
}

/** File position of a stored entry's first data byte (after its local header). */
export async function entryDataOffset(handle: fsp.FileHandle, path: string, fileSize: number, e: ZipEntry): Promise<number> {
  if (e.method !== 0) {
    throw new FileFormatError(path, `archive entry '${e.name}' is compressed (method ${e.method}); torch.save stores entries uncompressed, so re-save it with torch.save or unzip and re-zip with 'zip -0'`);
  }
  if (e.size !== e.compressedSize) throw new FileFormatError(path, `stored entry '${e.name}' has different packed and unpacked sizes; the archive is damaged`);
  const head = new DataView((await readExact(handle, path, e.localHeaderOffset, 30)).buffer);
  if (head.getUint32(0, true) !== LOCAL_SIG) throw new FileFormatError(path, `entry '${e.name}' has no local header at byte ${e.localHeaderOffset}; the archive is damaged`);
  const data = e.localHeaderOffset + 30 + head.getUint16(26, true) + head.getUint16(28, true);
  if (data + e.size > fileSize) {
    throw new FileFormatError(path, `entry '${e.name}' (${e.size} bytes at byte ${data}) runs past the end of the file (${fileSize} bytes); the archive is truncated`);
  }
  return data;
}

function safe(v: bigint, fail: (p: string) => never): number {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : fail(`ZIP64 value ${v} is beyond any file size`);
}
