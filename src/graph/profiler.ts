// Per-node GPU timing with timestamp queries, aggregated per kernel family (`--profile`).

import type { Node } from './ir.ts';

export interface ProfileRow {
  family: string;
  nodes: number;
  ms: number;
  share: number;
  gflops: number;
}

const MAX_QUERIES = 4096; // WebGPU's maximum query-set size

export class Profiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private readonly readBuffer: GPUBuffer;
  private readonly count: number;
  private nodeNs: Float64Array;

  constructor(private readonly device: GPUDevice, nodes: number) {
    this.count = Math.min(nodes * 2, MAX_QUERIES);
    this.querySet = device.createQuerySet({ type: 'timestamp', count: this.count });
    this.resolveBuffer = device.createBuffer({ size: this.count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.readBuffer = device.createBuffer({ size: this.count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.nodeNs = new Float64Array(nodes);
  }

  /** Timestamp writes for a node's pass (nodes past the query budget are not timed). */
  writesFor(node: number): GPUComputePassTimestampWrites | undefined {
    if (2 * node + 1 >= this.count) return undefined;
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * node, endOfPassWriteIndex: 2 * node + 1 };
  }

  async collect(): Promise<void> {
    const enc = this.device.createCommandEncoder();
    enc.resolveQuerySet(this.querySet, 0, this.count, this.resolveBuffer, 0);
    enc.copyBufferToBuffer(this.resolveBuffer, 0, this.readBuffer, 0, this.count * 8);
    this.device.queue.submit([enc.finish()]);
    await new Promise((r) => setImmediate(r));
    await this.readBuffer.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(this.readBuffer.getMappedRange().slice(0));
    this.readBuffer.unmap();
    for (let n = 0; 2 * n + 1 < this.count && n < this.nodeNs.length; n++) {
      const d = t[2 * n + 1]! - t[2 * n]!;
      this.nodeNs[n] = d > 0n ? Number(d) : 0;
    }
  }

  byFamily(nodes: readonly Node[]): ProfileRow[] {
    const rows = new Map<string, ProfileRow>();
    let total = 0;
    nodes.forEach((node, i) => {
      const ns = this.nodeNs[i] ?? 0;
      total += ns;
      const r = rows.get(node.family) ?? { family: node.family, nodes: 0, ms: 0, share: 0, gflops: 0 };
      r.nodes++;
      r.ms += ns / 1e6;
      r.gflops += node.flops; // turned into a rate below
      rows.set(node.family, r);
    });
    return [...rows.values()]
      .map((r) => ({ ...r, share: total > 0 ? (r.ms * 1e6) / total : 0, gflops: r.ms > 0 ? r.gflops / (r.ms * 1e6) : 0 }))
      .sort((a, b) => b.ms - a.ms);
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    this.readBuffer.destroy();
  }
}

export function formatProfile(rows: readonly ProfileRow[]): string {
  const lines = ['family            nodes        ms   share   GFLOP/s'];
  for (const r of rows) {
    lines.push(`${r.family.padEnd(16)} ${String(r.nodes).padStart(6)} ${r.ms.toFixed(2).padStart(9)} ${(r.share * 100).toFixed(1).padStart(6)}% ${r.gflops.toFixed(2).padStart(9)}`);
  }
  return lines.join('\n');
}
