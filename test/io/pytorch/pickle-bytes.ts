/**
 * Writes pickles and stored zip archives opcode by opcode, so the hostile-input tests build
 * their files in TypeScript (no binary blobs in the repository).
 */

const enc = new TextEncoder();

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

function u16(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff];
}

/** Opcodes as byte arrays; `pickle(...)` joins them. */
export const op = {
  proto: (v = 2): number[] => [0x80, v],
  stop: [0x2e],
  mark: [0x28],
  none: [0x4e],
  tuple: [0x74],
  emptyTuple: [0x29],
  emptyList: [0x5d],
  emptyDict: [0x7d],
  append: [0x61],
  setitem: [0x73],
  setitems: [0x75],
  reduce: [0x52],
  build: [0x62],
  binpersid: [0x51],
  newfalse: [0x89],
  int1: (n: number): number[] => [0x4b, n],
  int4: (n: number): number[] => [0x4a, ...u32(n)],
  /** LONG1 of an unsigned value below 2^63. */
  long: (n: bigint): number[] => {
    const b: number[] = [];
    for (let v = n; v > 0n || b.length === 0 || (b[b.length - 1]! & 0x80); v >>= 8n) b.push(Number(v & 0xffn));
    return [0x8a, b.length, ...b];
  },
  str: (s: string): number[] => {
    const b = enc.encode(s);
    return [0x58, ...u32(b.length), ...b];
  },
  global: (module: string, name: string): number[] => [0x63, ...enc.encode(`${module}\n${name}\n`)],
  stackGlobal: [0x93],
  /** BINUNICODE8 announcing `length` bytes that are not there. */
  hugeStr: (length: bigint): number[] => {
    const b: number[] = [];
    for (let i = 0n; i < 8n; i++) b.push(Number((length >> (8n * i)) & 0xffn));
    return [0x8d, ...b];
  },
};

export function pickle(...parts: (ArrayLike<number> | number)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else for (let i = 0; i < p.length; i++) out.push(p[i]!);
  }
  return Uint8Array.from(out);
}

/** A tuple of `items` (MARK ... TUPLE). */
export function tupleOf(...items: number[][]): number[] {
  return [...op.mark, ...items.flat(), ...op.tuple];
}

/** `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())` of a FloatStorage. */
export function floatTensor(key: string, storageNumel: number, offset: number, size: number[], stride: number[]): number[] {
  const ints = (xs: number[]): number[] => tupleOf(...xs.map((x) => (x < 256 ? op.int1(x) : op.int4(x))));
  return [
    ...op.global('torch._utils', '_rebuild_tensor_v2'),
    ...tupleOf(
      [...tupleOf(op.str('storage'), op.global('torch', 'FloatStorage'), op.str(key), op.str('cpu'), op.int4(storageNumel)), ...op.binpersid],
      op.int4(offset), ints(size), ints(stride), op.newfalse,
      [...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce],
    ),
    ...op.reduce,
  ];
}

function u64(n: number): number[] {
  return [...u32(n % 2 ** 32), ...u32(Math.floor(n / 2 ** 32))];
}

/**
 * A ZIP archive of stored entries, laid out like torch.save's (CRCs left 0: the reader ignores
 * them). `zip64` writes every size and offset the ZIP64 way (0xffffffff in the 32-bit fields,
 * the values in extra fields and a ZIP64 end record), as torch does past 4 GiB.
 */
export function storedZip(entries: { name: string; data: Uint8Array }[], zip64 = false): Uint8Array {
  const parts: number[] = [];
  const central: number[] = [];
  const big = (n: number): number[] => u32(zip64 ? 0xffffffff : n);
  for (const e of entries) {
    const name = enc.encode(e.name);
    const at = parts.length;
    const extra = zip64 ? [...u16(1), ...u16(24), ...u64(e.data.length), ...u64(e.data.length), ...u64(at)] : [];
    parts.push(...u32(0x04034b50), ...u16(20), ...u16(0), ...u16(0), ...u16(0), ...u16(0), ...u32(0),
      ...u32(e.data.length), ...u32(e.data.length), ...u16(name.length), ...u16(0), ...name);
    for (const b of e.data) parts.push(b);
    central.push(...u32(0x02014b50), ...u16(45), ...u16(45), ...u16(0), ...u16(0), ...u16(0), ...u16(0), ...u32(0),
      ...big(e.data.length), ...big(e.data.length), ...u16(name.length), ...u16(extra.length), ...u16(0), ...u16(0), ...u16(0),
      ...u32(0), ...big(at), ...name, ...extra);
  }
  const dirAt = parts.length;
  for (const b of central) parts.push(b);
  if (zip64) {
    const recAt = parts.length;
    parts.push(...u32(0x06064b50), ...u64(44), ...u16(45), ...u16(45), ...u32(0), ...u32(0),
      ...u64(entries.length), ...u64(entries.length), ...u64(central.length), ...u64(dirAt));
    parts.push(...u32(0x07064b50), ...u32(0), ...u64(recAt), ...u32(1));
  }
  const count = zip64 ? 0xffff : entries.length;
  parts.push(...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(count), ...u16(count),
    ...big(central.length), ...big(dirAt), ...u16(0));
  return Uint8Array.from(parts);
}

/** A one-pickle zip checkpoint `archive/data.pkl` with the given storages. */
export function torchZip(pkl: Uint8Array, storages: Record<string, Uint8Array> = {}, zip64 = false): Uint8Array {
  return storedZip([
    { name: 'archive/data.pkl', data: pkl },
    ...Object.entries(storages).map(([k, data]) => ({ name: `archive/data/${k}`, data })),
    { name: 'archive/version', data: enc.encode('3\n') },
  ], zip64);
}
