// Writes GGUF bytes for tests, from the format's description (ggml docs/gguf.md): magic, version,
// counts, typed metadata, tensor infos (GGML dims order), padding to the alignment, data.
// Every field can be overridden so tests can build corrupt files on purpose.

export type KvValue = { type: 'u32'; value: number } | { type: 'str'; value: string } | { type: 'f32'; value: number } | { type: 'arr_u64'; value: number[] } | { type: 'arr_i64'; value: number[] };

export interface TensorSpec {
  name: string;
  /** GGML order: dims[0] is the row length. */
  dims: number[];
  type: number;
  data: Uint8Array;
  /** Override the data offset (default: the next aligned position). */
  offset?: number;
}

export interface GgufSpec {
  version?: number;
  alignment?: number;
  kv?: Record<string, KvValue>;
  tensors: TensorSpec[];
  /** Override the counts in the header. */
  tensorCount?: number;
  kvCount?: number;
  magic?: string;
}

class Bytes {
  parts: number[] = [];
  u8(v: number) { this.parts.push(v & 0xff); }
  u32(v: number) { for (let i = 0; i < 4; i++) this.u8(Math.floor(v / 2 ** (8 * i))); }
  u64(v: number) { this.u32(v % 2 ** 32); this.u32(Math.floor(v / 2 ** 32)); }
  str(s: string) { const b = new TextEncoder().encode(s); this.u64(b.length); b.forEach((x) => this.u8(x)); }
  f32(v: number) { const b = new Uint8Array(Float32Array.of(v).buffer); b.forEach((x) => this.u8(x)); }
}

export function ggufBytes(spec: GgufSpec): Uint8Array {
  const align = spec.alignment ?? 32;
  const w = new Bytes();
  (spec.magic ?? 'GGUF').split('').forEach((c) => w.u8(c.charCodeAt(0)));
  w.u32(spec.version ?? 3);
  const kv = { ...(spec.alignment ? { 'general.alignment': { type: 'u32', value: spec.alignment } as KvValue } : {}), ...spec.kv };
  w.u64(spec.tensorCount ?? spec.tensors.length);
  w.u64(spec.kvCount ?? Object.keys(kv).length);
  for (const [k, v] of Object.entries(kv)) {
    w.str(k);
    if (v.type === 'u32') { w.u32(4); w.u32(v.value); }
    else if (v.type === 'f32') { w.u32(6); w.f32(v.value); }
    else if (v.type === 'str') { w.u32(8); w.str(v.value); }
    else { w.u32(9); w.u32(v.type === 'arr_u64' ? 10 : 11); w.u64(v.value.length); v.value.forEach((x) => w.u64(x)); }
  }
  let at = 0;
  const offsets: number[] = [];
  for (const t of spec.tensors) {
    const off = t.offset ?? Math.ceil(at / align) * align;
    offsets.push(off);
    at = Math.max(at, off + t.data.length);
    w.str(t.name);
    w.u32(t.dims.length);
    t.dims.forEach((d) => w.u64(d));
    w.u32(t.type);
    w.u64(off);
  }
  while (w.parts.length % align !== 0) w.u8(0);
  const head = Uint8Array.from(w.parts);
  const data = new Uint8Array(Math.ceil(at / align) * align);
  spec.tensors.forEach((t, i) => data.set(t.data.subarray(0, Math.max(0, Math.min(t.data.length, data.length - offsets[i]!))), offsets[i]!));
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

export const ggufFill = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17 + ((i * i) >> 3)) & 0xff);

/** A small Wan-like file with mixed types (F32, F16, BF16, Q8_0, Q4_1, Q4_K) and the 5-D patch embedding. */
export function mixedGgufSpec(): GgufSpec {
  return {
    kv: { 'general.architecture': { type: 'str', value: 'wan' }, 'comfy.gguf.orig_shape.patch4d': { type: 'arr_i64', value: [8, 36, 1, 2, 2] } },
    tensors: [
      { name: 'blocks.0.norm2.weight', dims: [64], type: 0, data: ggufFill(256, 1) },
      { name: 'text_embedding.0.weight', dims: [64, 3], type: 1, data: ggufFill(384, 2) },
      { name: 'head.head.weight', dims: [64, 2], type: 30, data: ggufFill(256, 3) },
      { name: 'blocks.0.self_attn.q.weight', dims: [64, 3], type: 8, data: ggufFill(6 * 34, 4) },
      { name: 'blocks.0.ffn.0.weight', dims: [64, 2], type: 3, data: ggufFill(4 * 20, 5) },
      { name: 'blocks.0.ffn.2.weight', dims: [256, 2], type: 12, data: ggufFill(2 * 144, 6) },
      { name: 'patch_embedding.weight', dims: [2, 2, 1, 36, 8], type: 1, data: ggufFill(8 * 36 * 4 * 2, 7) },
      { name: 'patch4d', dims: [4, 36, 1, 8], type: 1, data: ggufFill(8 * 36 * 4 * 2, 8) },
    ],
  };
}

/**
 * A tiny umT5 text encoder as a community GGUF holds it (llama.cpp's T5 encoder names): d_model
 * 32, 4 heads of 8, d_ff 48, 8 tokens, one block; Q8_0 table and matrices, the rest F16 / F32.
 */
export function umt5GgufSpec(): GgufSpec {
  const t = (name: string, dims: number[], type: number, bytes: number, seed: number): TensorSpec => ({ name, dims, type, data: ggufFill(bytes, seed) });
  return {
    kv: { 'general.architecture': { type: 'str', value: 't5encoder' } },
    tensors: [
      t('token_embd.weight', [32, 8], 8, 8 * 34, 1),
      t('enc.blk.0.attn_norm.weight', [32], 0, 128, 2),
      ...['q', 'k', 'v', 'o'].map((m, i) => t(`enc.blk.0.attn_${m}.weight`, [32, 32], 8, 32 * 34, 3 + i)),
      t('enc.blk.0.attn_rel_b.weight', [4, 32], 1, 256, 7),
      t('enc.blk.0.ffn_norm.weight', [32], 0, 128, 8),
      t('enc.blk.0.ffn_gate.weight', [32, 48], 8, 48 * 34, 9),
      t('enc.blk.0.ffn_up.weight', [32, 48], 8, 48 * 34, 10),
      t('enc.blk.0.ffn_down.weight', [48, 32], 1, 48 * 32 * 2, 11),
      t('enc.output_norm.weight', [32], 0, 128, 12),
    ],
  };
}
