/** The safetensors dtypes egox reads and writes, their sizes, and typed views of raw bytes. */
import { jsonBrief } from './json-bounded.ts';

export type StDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const ST_ITEM_SIZE: Readonly<Record<StDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Dtypes the safetensors format defines but egox does not support (reported as "unsupported", not "unknown"). */
const KNOWN_UNSUPPORTED = new Set(['U16', 'U32', 'U64', 'C64', 'F4', 'F6_E2M3', 'F6_E3M2', 'E8M0']);

export function isStDtype(s: unknown): s is StDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(ST_ITEM_SIZE, s);
}

/** Why a dtype string is refused: a one-phrase problem for an error message. */
export function dtypeProblem(s: unknown): string {
  if (typeof s !== 'string') return `dtype must be a string, got ${jsonBrief(s)}`;
  if (s.startsWith('F8_') || KNOWN_UNSUPPORTED.has(s)) {
    // F8_E4M3 and F8_E5M2 are read; the other 8-bit floats (F8_E4M3FNUZ, F8_E8M0...) are not.
    return `unsupported dtype ${s}; convert the checkpoint to BF16, F16 or F32`;
  }
  return `unknown dtype '${s.length > 40 ? `${s.slice(0, 40)}...` : s}' (supported: ${Object.keys(ST_ITEM_SIZE).join(' ')})`;
}

/** The typed array each dtype is viewed as (8-bit floats as raw bytes). */
export interface StTypedArrayOf {
  F64: Float64Array; F32: Float32Array; F16: Uint16Array; BF16: Uint16Array; F8_E4M3: Uint8Array; F8_E5M2: Uint8Array; I64: BigInt64Array;
  I32: Int32Array; I16: Int16Array; I8: Int8Array; U8: Uint8Array; BOOL: Uint8Array;
}

export type StTypedArray = StTypedArrayOf[StDtype];

/**
 * Views raw little-endian tensor bytes as the natural typed array (F16/BF16 as raw Uint16 bits,
 * BOOL as Uint8). Copies only when `bytes` is misaligned for the element size.
 */
export function typedView<D extends StDtype>(dtype: D, bytes: Uint8Array): StTypedArrayOf[D] {
  return viewAny(dtype, bytes) as StTypedArrayOf[D];
}

function viewAny(dtype: StDtype, bytes: Uint8Array): StTypedArray {
  const size = ST_ITEM_SIZE[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new Error(`typedView: ${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  const src = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const n = src.byteLength / size;
  const { buffer, byteOffset } = src;
  switch (dtype) {
    case 'F64': return new Float64Array(buffer, byteOffset, n);
    case 'F32': return new Float32Array(buffer, byteOffset, n);
    case 'F16': case 'BF16': return new Uint16Array(buffer, byteOffset, n);
    case 'I64': return new BigInt64Array(buffer, byteOffset, n);
    case 'I32': return new Int32Array(buffer, byteOffset, n);
    case 'I16': return new Int16Array(buffer, byteOffset, n);
    case 'I8': return new Int8Array(buffer, byteOffset, n);
    case 'U8': case 'BOOL': case 'F8_E4M3': case 'F8_E5M2': return new Uint8Array(buffer, byteOffset, n);
  }
}
