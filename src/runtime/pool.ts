// A pool of storage buffers keyed by size class, so that temporary tensors of similar
// sizes reuse GPU allocations instead of creating and destroying buffers every step.

const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */

/** Rounds up to one of four classes per power of two (at most 25% waste), minimum 256 B. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const top = 2 ** Math.floor(Math.log2(bytes));
  const step = top / 4;
  return Math.ceil(bytes / step) * step;
}

export interface PoolStats {
  created: number;
  reused: number;
  liveBytes: number;
  freeBytes: number;
  peakBytes: number;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  readonly stats: PoolStats = { created: 0, reused: 0, liveBytes: 0, freeBytes: 0, peakBytes: 0 };

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number, label?: string): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    const reused = list?.pop();
    if (reused) {
      this.stats.reused++;
      this.stats.freeBytes -= size;
      this.stats.liveBytes += size;
      return reused;
    }
    const buffer = this.device.createBuffer({ size, usage: STORAGE_USAGE, label });
    this.stats.created++;
    this.stats.liveBytes += size;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.liveBytes + this.stats.freeBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
    this.stats.liveBytes -= size;
    this.stats.freeBytes += size;
  }

  /** Destroys the idle buffers (e.g. when memory is tight). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.freeBytes = 0;
  }
}
