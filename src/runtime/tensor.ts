// A tensor is a GPU buffer region plus shape and dtype. Views share the buffer; only the
// owner returns it to the pool.

import { elementBytes, storageBytes, type DType } from './dtype.ts';

export type Shape = readonly number[];

export function numelOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export interface TensorOwner {
  releaseBuffer(buffer: GPUBuffer): void;
}

export class Tensor {
  private released = false;

  constructor(
    readonly buffer: GPUBuffer,
    readonly shape: Shape,
    readonly dtype: DType,
    /** Byte offset into `buffer`; a multiple of 4. */
    readonly byteOffset = 0,
    private readonly owner?: TensorOwner,
  ) {
    if (byteOffset % 4 !== 0) throw new Error(`tensor byte offset ${byteOffset} is not a multiple of 4`);
    if (byteOffset + this.byteLength > buffer.size) {
      throw new Error(`tensor ${shapeString(shape)} ${dtype} at +${byteOffset} exceeds its buffer (${buffer.size} B)`);
    }
  }

  get numel(): number {
    return numelOf(this.shape);
  }

  /** Bytes this tensor occupies (16-bit types packed two per word, rounded up to 4). */
  get byteLength(): number {
    return storageBytes(this.dtype, this.numel);
  }

  /** The same data under another shape (no copy). */
  reshape(shape: Shape): Tensor {
    if (numelOf(shape) !== this.numel) {
      throw new Error(`cannot reshape ${shapeString(this.shape)} to ${shapeString(shape)}`);
    }
    return new Tensor(this.buffer, shape, this.dtype, this.byteOffset);
  }

  /**
   * Rows [start, end) along the first axis, without a copy. For packed types (16- and 8-bit)
   * the start row must begin on a word boundary.
   */
  slice(start: number, end: number): Tensor {
    const rows = this.shape[0] ?? 1;
    if (!(0 <= start && start <= end && end <= rows)) {
      throw new Error(`slice [${start}, ${end}) out of range for ${shapeString(this.shape)}`);
    }
    const inner = this.numel / Math.max(rows, 1);
    const startEl = start * inner;
    if (storageBytes(this.dtype, startEl) !== startEl * elementBytes(this.dtype)) {
      throw new Error(`slice start ${start} splits a packed word; copy the tensor instead`);
    }
    return new Tensor(
      this.buffer,
      [end - start, ...this.shape.slice(1)],
      this.dtype,
      this.byteOffset + storageBytes(this.dtype, startEl),
    );
  }

  /** Returns the buffer to its pool (owned tensors only); the tensor is unusable afterwards. */
  release(): void {
    if (this.released || !this.owner) return;
    this.released = true;
    this.owner.releaseBuffer(this.buffer);
  }
}
