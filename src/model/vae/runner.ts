// Runs a clip through a pair of chunk graphs: the first chunk on its own graph, then every
// later chunk on the second graph, replayed. The frame caches live in each graph's state
// outputs; between the two graphs they are handed over through host memory, so only one
// executor (one set of activations and caches) is on the GPU at a time.

import { Executor, type ExecutorOptions } from '../../graph/executor.ts';
import type { Graph } from '../../graph/ir.ts';
import type { WeightStore } from '../../graph/weights.ts';
import { fill } from '../../kernels/elementwise/index.ts';
import type { EgoxDevice } from '../../runtime/device.ts';
import { INPUT, OUTPUT, stateNames } from './graphs.ts';

export interface ChunkGraphs {
  first: Graph;
  next: Graph;
}

export interface ChunkTimings {
  /** Seconds per chunk run (graph replay and readback), in chunk order. */
  chunkSeconds: number[];
  /** Seconds spent creating executors (weights upload, pipelines) and handing the caches over. */
  setupSeconds: number;
  /** GPU bytes each executor allocated (first-chunk graph, later-chunk graph; 0 if not run). */
  allocatedBytes: { first: number; next: number };
}

/**
 * Runs `count` chunks: input(i) gives chunk i's host data, output(i, data) receives its result
 * (valid during the call). Returns timings.
 */
export async function runChunks(
  dev: EgoxDevice,
  weights: WeightStore,
  graphs: ChunkGraphs,
  count: number,
  input: (i: number) => Float32Array,
  output: (i: number, data: Float32Array) => void,
  options: ExecutorOptions = {},
): Promise<ChunkTimings> {
  const timings: ChunkTimings = { chunkSeconds: [], setupSeconds: 0, allocatedBytes: { first: 0, next: 0 } };
  let t0 = performance.now();
  let exec = await Executor.create(dev, graphs.first, weights, options);
  timings.setupSeconds += (performance.now() - t0) / 1000;
  timings.allocatedBytes.first = exec.stats.bytesAllocated;
  const states = new Map<string, Uint8Array>();
  try {
    t0 = performance.now();
    await exec.run({ [INPUT]: input(0) });
    output(0, await exec.read(OUTPUT));
    timings.chunkSeconds.push((performance.now() - t0) / 1000);
    if (count === 1) return timings;
    t0 = performance.now();
    for (const name of stateNames(graphs.first)) states.set(name, await dev.readBytes(exec.output(name)));
  } finally {
    exec.destroy();
  }
  exec = await Executor.create(dev, graphs.next, weights, options);
  timings.allocatedBytes.next = exec.stats.bytesAllocated;
  try {
    for (const name of stateNames(graphs.next)) {
      const bytes = states.get(name);
      // A cache the first chunk did not fill (the upsample time conv's) starts as zeros.
      if (bytes) await dev.write(exec.output(name), bytes);
      else fill(dev, exec.output(name), 0);
      states.delete(name);
    }
    await dev.sync();
    timings.setupSeconds += (performance.now() - t0) / 1000;
    for (let i = 1; i < count; i++) {
      t0 = performance.now();
      await exec.run({ [INPUT]: input(i) });
      output(i, await exec.read(OUTPUT));
      timings.chunkSeconds.push((performance.now() - t0) / 1000);
    }
  } finally {
    exec.destroy();
  }
  return timings;
}
