// Resampling and layout kernels of the Wan VAE on f32 [C, F, H, W] tensors:
// - nearest-exact 2x spatial upsampling (for an exact 2x, source = floor(dst / 2));
// - zero padding of the spatial axes, asymmetric (the downsampler pads right and bottom);
// - the upsample3d time reshuffle: the time conv maps c -> 2c channels, and diffusers
//   reshapes [2c, T] to [2, c, T] and stacks the two halves after T, so output frame 2t+k
//   of channel ch is input channel k*c + ch at frame t.
// All are pure data movement, one output word (or vec2/vec4 of them) per thread. Sizes are
// uniforms (`...Uniforms` gives their values): one pipeline serves every clip size.

import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { KernelProgram, UniformDecl } from '../../runtime/program.ts';
import type { Tensor } from '../../runtime/tensor.ts';

const WG = 256;
const u = (n: number): string => `${n}u`;

const sizeUniforms = (...names: string[]): UniformDecl[] => names.map((name) => ({ name, type: 'u32' }));

/** `threads` is the launch size; the body reads the thread count as `params.n`. */
function moveProgram(name: string, key: string, threads: number, inType: string, outType: string, uniforms: UniformDecl[], body: string): KernelProgram {
  return {
    name,
    key,
    workgroupSize: [WG, 1, 1],
    uniforms: [...sizeUniforms('n'), ...uniforms],
    bindings: [
      { name: 'src', type: inType, access: 'read' },
      { name: 'dst', type: outType, access: 'read_write' },
    ],
    dispatch: Math.ceil(threads / WG),
    wgsl: `@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let i = wg * ${u(WG)} + lid;
  if (i >= params.n) { return; }
${body}
}`,
  };
}

export interface PlanesSpec {
  /** Number of H x W planes (C * F). */
  planes: number;
  h: number;
  w: number;
}

/** One thread per input element, writing its 2x2 block as two vec2 stores. */
export function upsampleNearest2xProgram(s: PlanesSpec): KernelProgram {
  return moveProgram(
    'upsample2x',
    'upsample2x',
    s.planes * s.h * s.w,
    'f32',
    'vec2<f32>',
    sizeUniforms('w'),
    `  let x = i % params.w;
  let r = i / params.w; // plane * h + y
  let v = vec2<f32>(src[i]);
  let o = 2u * r * params.w + x; // vec2 index of output row 2y
  dst[o] = v;
  dst[o + params.w] = v;`,
  );
}

export function upsampleNearest2xUniforms(s: PlanesSpec): Record<string, number> {
  return { n: s.planes * s.h * s.w, w: s.w };
}

export interface ZeroPadSpec extends PlanesSpec {
  top: number;
  bottom: number;
  left: number;
  right: number;
  /** 'replicate' repeats the edge pixels (PyTorch padding_mode='replicate'); default zeros. */
  mode?: 'zeros' | 'replicate';
}

export function zeroPadProgram(s: ZeroPadSpec): KernelProgram {
  const replicate = s.mode === 'replicate';
  return moveProgram(
    replicate ? 'replicatepad' : 'zeropad',
    `${replicate ? 'replicatepad' : 'zeropad'}:t${s.top}b${s.bottom}l${s.left}r${s.right}`,
    zeroPadUniforms(s).n!,
    'f32',
    'f32',
    sizeUniforms('h', 'w', 'oh', 'ow'),
    `  let x = i32(i % params.ow) - ${s.left};
  let r = i / params.ow;
  let y = i32(r % params.oh) - ${s.top};
  let p = r / params.oh;
  let inside = u32(x) < params.w && u32(y) < params.h;
  let j = (p * params.h + u32(clamp(y, 0, i32(params.h) - 1))) * params.w + u32(clamp(x, 0, i32(params.w) - 1));
  dst[i] = ${replicate ? 'src[j];' : 'select(0.0, src[j], inside);'}`,
  );
}

export function zeroPadUniforms(s: ZeroPadSpec): Record<string, number> {
  const oh = s.top + s.h + s.bottom;
  const ow = s.left + s.w + s.right;
  return { n: s.planes * oh * ow, h: s.h, w: s.w, oh, ow };
}

export interface TimeInterleaveSpec {
  /** Output channels c (the input has 2c). */
  c: number;
  /** Input frames t (the output has 2t). */
  t: number;
  /** H * W. */
  hw: number;
}

export function timeInterleaveProgram(s: TimeInterleaveSpec): KernelProgram {
  const vec = s.hw % 4 === 0 ? 4 : 1;
  const type = vec === 4 ? 'vec4<f32>' : 'f32';
  return moveProgram(
    'time-interleave',
    `time-interleave${vec === 4 ? ':v4' : ''}`,
    timeInterleaveUniforms(s).n!,
    type,
    type,
    sizeUniforms('c', 't', 'hw'),
    `  let e = i % params.hw;
  let r = i / params.hw; // ch * 2t + frame
  let f2 = r % (2u * params.t);
  let ch = r / (2u * params.t);
  let k = f2 % 2u;
  dst[i] = src[((k * params.c + ch) * params.t + f2 / 2u) * params.hw + e];`,
  );
}

/** `hw` in load units (vec4 where H * W allows). */
export function timeInterleaveUniforms(s: TimeInterleaveSpec): Record<string, number> {
  const hw = s.hw % 4 === 0 ? s.hw / 4 : s.hw;
  return { n: 2 * s.c * s.t * hw, c: s.c, t: s.t, hw };
}

// ---- launchers -------------------------------------------------------------------------

function planes(x: Tensor, what: string): { planes: number; h: number; w: number; lead: number[] } {
  if (x.dtype !== 'f32') throw new Error(`${what}: input must be f32, got ${x.dtype}`);
  if (x.shape.length < 2) throw new Error(`${what}: input must be [..., H, W], got [${x.shape.join(', ')}]`);
  const lead = x.shape.slice(0, -2) as number[];
  return { planes: lead.reduce((a, b) => a * b, 1), h: x.shape.at(-2)!, w: x.shape.at(-1)!, lead };
}

/** Nearest-exact 2x upsampling of the last two axes: [..., H, W] -> [..., 2H, 2W]. */
export function upsampleNearest2x(dev: KernelContext, x: Tensor, out?: Tensor): Tensor {
  const p = planes(x, 'upsample2x');
  const y = out ?? dev.empty([...p.lead, 2 * p.h, 2 * p.w], 'f32', 'upsample2x');
  if (y.numel !== 4 * x.numel || y.dtype !== 'f32') throw new Error(`upsample2x: output [${y.shape.join(', ')}] does not hold 2x of [${x.shape.join(', ')}]`);
  dev.run(upsampleNearest2xProgram(p), [x, y], upsampleNearest2xUniforms(p));
  return y;
}

/**
 * Zero padding of the last two axes (ZeroPad2d((left, right, top, bottom)) in PyTorch), or with
 * mode 'replicate' edge replication (F.pad(..., mode='replicate'), the conv padding of MoGe).
 */
export function zeroPad2d(
  dev: KernelContext,
  x: Tensor,
  pad: { top: number; bottom: number; left: number; right: number },
  out?: Tensor,
  mode: 'zeros' | 'replicate' = 'zeros',
): Tensor {
  const p = planes(x, 'zeropad');
  for (const [k, v] of Object.entries(pad)) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`zeropad: padding ${k} must be a non-negative integer, got ${v}`);
  }
  const shape = [...p.lead, pad.top + p.h + pad.bottom, pad.left + p.w + pad.right];
  const y = out ?? dev.empty(shape, 'f32', 'zeropad');
  if (y.shape.join() !== shape.join() || y.dtype !== 'f32') throw new Error(`zeropad: output [${y.shape.join(', ')}] should be [${shape.join(', ')}] f32`);
  dev.run(zeroPadProgram({ ...p, ...pad, mode }), [x, y], zeroPadUniforms({ ...p, ...pad }));
  return y;
}

/** The upsample3d reshuffle: [2c, T, H, W] (time-conv output) -> [c, 2T, H, W]. */
export function timeInterleave(dev: KernelContext, x: Tensor, out?: Tensor): Tensor {
  if (x.dtype !== 'f32' || x.shape.length !== 4 || x.shape[0]! % 2 !== 0) {
    throw new Error(`time-interleave: input must be f32 [2c, T, H, W], got ${x.dtype} [${x.shape.join(', ')}]`);
  }
  const [c2, t, h, w] = x.shape as [number, number, number, number];
  const shape = [c2 / 2, 2 * t, h, w];
  const y = out ?? dev.empty(shape, 'f32', 'time-interleave');
  if (y.shape.join() !== shape.join() || y.dtype !== 'f32') throw new Error(`time-interleave: output [${y.shape.join(', ')}] should be [${shape.join(', ')}] f32`);
  const spec = { c: c2 / 2, t, hw: h * w };
  dev.run(timeInterleaveProgram(spec), [x, y], timeInterleaveUniforms(spec));
  return y;
}
