// The causal-conv frame cache of the Wan VAE: after a chunk, a conv keeps the last `keep`
// frames of everything it has seen, i.e. the last `keep` frames of cat(cache, x). The update
// runs in place on the cache tensor [C, keep, H, W]: each thread owns one (channel, pixel)
// column, reads everything it needs, then writes, so no thread reads what another writes.
// A chunk shorter than `keep` shifts the old frames forward; without an old cache (the first
// chunk) the missing frames are zeros, which is exactly the zero padding they stand for.
// Channels, frames and pixels are uniforms (`cacheUpdateUniforms`): one pipeline per (keep,
// hasOld, vec4) serves every conv and clip size.

import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { Tensor } from '../../runtime/tensor.ts';

export interface CacheUpdateSpec {
  channels: number;
  /** Frames of x. */
  frames: number;
  /** Pixels per frame (H * W). */
  pixels: number;
  /** Frames the cache holds. */
  keep: number;
  /** Whether the cache's old contents are valid (false: treat them as zeros). */
  hasOld: boolean;
}

const WG = 64;

export function cacheUpdateProgram(s: CacheUpdateSpec): KernelProgram {
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === 'number' && (!Number.isInteger(v) || v < 1)) throw new Error(`cache update: ${k} must be a positive integer, got ${v}`);
  }
  const vec4 = s.pixels % 4 === 0;
  const T = vec4 ? 'vec4<f32>' : 'f32';
  const zero = vec4 ? 'vec4<f32>()' : '0.0';
  const lines: string[] = [];
  for (let j = 0; j < s.keep; j++) {
    // Frame F - keep + j of x, or while that is negative, frame F + j of the old cache (a
    // uniform branch: F is the same for every thread).
    lines.push(`  var v${j} = ${zero};`);
    const old = s.hasOld ? ` else { v${j} = cache[(c * ${s.keep}u + F + ${j}u) * P + i]; }` : '';
    lines.push(`  if (F + ${j}u >= ${s.keep}u) { v${j} = xs[(c * F + F + ${j}u - ${s.keep}u) * P + i]; }${old}`);
  }
  for (let j = 0; j < s.keep; j++) lines.push(`  cache[(c * ${s.keep}u + ${j}u) * P + i] = v${j};`);
  const n = s.channels * (vec4 ? s.pixels / 4 : s.pixels);
  return {
    name: 'vae-cache',
    key: `vae-cache:k${s.keep}${s.hasOld ? 'old' : 'new'}${vec4 ? 'v4' : ''}`,
    workgroupSize: [WG, 1, 1],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'frames', type: 'u32' },
      { name: 'pixels', type: 'u32' },
    ],
    bindings: [
      { name: 'xs', type: T, access: 'read' },
      { name: 'cache', type: T, access: 'read_write' },
    ],
    dispatch: Math.ceil(n / WG),
    wgsl: `
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  if (t >= params.n) { return; }
  let F = params.frames;
  let P = params.pixels;
  let c = t / P;
  let i = t % P;
${lines.join('\n')}
}`,
  };
}

/** Uniform values of `cacheUpdateProgram(s)`: pixels in load units (vec4 where they allow). */
export function cacheUpdateUniforms(s: CacheUpdateSpec): Record<string, number> {
  const P = s.pixels % 4 === 0 ? s.pixels / 4 : s.pixels;
  return { n: s.channels * P, frames: s.frames, pixels: P };
}

/** Updates `cache` [C, keep, H, W] in place with chunk x [C, F, H, W]. */
export function cacheUpdate(dev: KernelContext, x: Tensor, cache: Tensor, hasOld = true): Tensor {
  const [c, f, h, w] = x.shape as [number, number, number, number];
  if (x.shape.length !== 4 || cache.shape.length !== 4) throw new Error('cache update: x and cache must be [C, F, H, W]');
  if (cache.shape[0] !== c || cache.shape[2] !== h || cache.shape[3] !== w) {
    throw new Error(`cache update: cache [${cache.shape.join(', ')}] does not match x [${x.shape.join(', ')}]`);
  }
  if (x.dtype !== 'f32' || cache.dtype !== 'f32') throw new Error('cache update: f32 tensors only');
  const spec = { channels: c, frames: f, pixels: h * w, keep: cache.shape[1]!, hasOld };
  dev.run(cacheUpdateProgram(spec), [x, cache], cacheUpdateUniforms(spec));
  return cache;
}
