// Windows of tensors for ops split over maxStorageBufferBindingSize (128 MiB on lavapipe; the
// 14B DiT's activations are [28028, 5120] f32 = 574 MB). A window binds a contiguous range
// of a tensor's elements starting at a binding-aligned byte offset (possibly before the
// range, inside the same buffer); the kernel adds the element offset of the range inside the
// window, which it gets as a uniform. GEMM, attention, the norms and layout ops all split this way.

import type { KernelContext } from '../../runtime/kernel-context.ts';
import { Tensor } from '../../runtime/tensor.ts';
import { elementBytes } from '../../runtime/dtype.ts';

export function elemBytes(t: Pick<Tensor, 'dtype'>): number {
  return elementBytes(t.dtype);
}

/** The binding limit an op splits against: the override (tests) or the device's. */
export function bindingLimit(dev: Pick<KernelContext, 'limits'>, override?: number): number {
  return Math.min(override ?? Infinity, dev.limits.maxStorageBufferBindingSize);
}

export function bindingAlign(dev: Pick<KernelContext, 'limits'>): number {
  return dev.limits.minStorageBufferOffsetAlignment ?? 256;
}

/** Bytes a binding of the whole tensor takes (what an unsplit dispatch binds). */
export function wholeBindingBytes(t: Tensor): number {
  return Math.max(4, Math.ceil(t.byteLength / 4) * 4);
}

/**
 * A view of elements [start, end) of `t` starting at an aligned byte offset, and `off`, the
 * element offset of `start` inside that view, in units of `unit` elements (a kernel that reads
 * vec4s gets the offset in vec4s). Throws if the start is not on a unit boundary: callers
 * choose block sizes that keep it there.
 */
export function windowOf(t: Tensor, start: number, end: number, align: number, unit = 1): { view: Tensor; off: number } {
  const eb = elemBytes(t);
  const startByte = t.byteOffset + start * eb;
  const alignedByte = Math.floor(startByte / align) * align;
  const offElems = (startByte - alignedByte) / eb;
  if (offElems % unit !== 0) throw new Error(`binding window: element ${start} of a ${t.dtype} tensor at byte ${t.byteOffset} is not on a ${unit}-element boundary`);
  const numel = Math.max(1, Math.ceil((t.byteOffset + end * eb - alignedByte) / eb));
  if (alignedByte === t.byteOffset && numel >= t.numel) return { view: t, off: offElems / unit };
  return { view: new Tensor(t.buffer, [numel], t.dtype, alignedByte), off: offElems / unit };
}

/** Upper bound of the bytes a window of `count` elements binds (alignment slack included). */
export function windowBytes(t: Pick<Tensor, 'dtype'>, count: number, align: number): number {
  return count * elemBytes(t) + align + 8;
}

/**
 * The largest number of rows of `rowBytes` whose window fits `limit`, rounded down to a
 * multiple of `multiple` (at least `multiple`: the caller checks it fits). Throws when not
 * even `multiple` rows fit.
 */
export function rowsPerWindow(limit: number, rowBytes: number, align: number, multiple = 1, what = 'op'): number {
  const rows = Math.floor((limit - align - 8) / rowBytes);
  const block = Math.floor(rows / multiple) * multiple;
  if (block < 1) {
    throw new Error(`${what}: ${multiple} row(s) of ${rowBytes} bytes do not fit the storage binding limit of ${limit} bytes`);
  }
  return block;
}
