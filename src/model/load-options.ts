// How every network (Wan DiT, Wan VAE, umT5, CLIP vision) is loaded: one options shape.
//
// Sharing one budget (`--gpu-memory`) when generate runs the VAE, the encoders and the DiT one
// after another: each network gets the WHOLE budget while it is the one resident. That holds
// because each releases its GPU memory before the next is created (the VAE keeps an executor
// only during one encode or decode call, the encoders are closed after encoding, the DiT
// executor is destroyed before the final decode), and it is checked, not assumed: generate
// passes one GpuResidency to all of them, and an executor of a second network created while
// another network still holds memory is an internal fault. An explicit split would waste
// memory: the DiT needs most of it while the others are idle.

import type { ExecutorOptions } from '../graph/executor.ts';
import type { GpuResidency } from '../graph/residency.ts';
import type { FloatDType } from '../runtime/dtype.ts';

export interface NetworkLoadOptions {
  /** Storage of the weights on the GPU (default f32; bf16 or f16 halve weight memory). */
  weightDtype?: FloatDType;
  /** GPU memory the network may use while it is resident; weights are streamed past it (default: no limit). */
  gpuMemoryBytes?: number;
  /** Set when several networks share `gpuMemoryBytes` one after another (see above). */
  residency?: GpuResidency;
}

export type NetworkName = 'vae' | 'umt5' | 'clip-vision' | 'dit';

/** The executor options a network's load options give (the budget and its residency claim). */
export function executorBudget(network: NetworkName, o: NetworkLoadOptions): Pick<ExecutorOptions, 'gpuMemoryBytes' | 'residency'> {
  return { gpuMemoryBytes: o.gpuMemoryBytes, residency: o.residency ? { tracker: o.residency, network } : undefined };
}
