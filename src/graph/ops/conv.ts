// Graph ops over the convolution kernels (src/kernels/conv/index.ts): Wan's causal Conv3d (front
// padding in time, optional cached frames of the previous chunk) and Conv2d applied to every
// frame. Activations are f32 [C, F, H, W]; weights keep PyTorch's layout in f32/f16/bf16.

import { convGeometry, convProgram, DEFAULT_WGTILE, type ConvPadding, type ConvShapeSpec, type ConvVariant } from '../../kernels/conv/index.ts';
import { convUniforms } from '../../kernels/conv/index.ts';
import { shapeString, type Shape } from '../../runtime/tensor.ts';
import { expectDtype, expectShape, type GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';

export interface ConvOpOptions {
  name?: string;
  /** Added after the bias; shaped like the output. */
  residual?: Value;
  /**
   * Kernel variant, or a rule choosing it per conv; default the workgroup-tiled one (GPUs).
   * Model code passes conv.ts's defaultConvVariant for its device: the choice is made when
   * the graph is built (lowering sees no adapter).
   */
  variant?: ConvVariant | ((spec: ConvShapeSpec) => ConvVariant);
}

export interface Conv3dOpOptions extends ConvOpOptions {
  /** (st, sh, sw) or one number; default 1. */
  stride?: number | readonly [number, number, number];
  /** Wan CausalConv3d padding (pt, ph, pw): 2*pt frames in front only; default 0. */
  padding?: number | readonly [number, number, number];
  /** Frames of the previous chunk [Cin, Fc, H, W]; the last `cacheFrames` (default all) go in front of x. */
  cache?: Value;
  cacheFrames?: number;
}

export interface Conv2dOpOptions extends ConvOpOptions {
  stride?: number | readonly [number, number];
  /** One number pads all sides; or explicit (e.g. Wan's downsample pads right and bottom only). */
  padding?: number | Omit<ConvPadding, 'front'>;
}

const WEIGHT_DTYPES = ['f32', 'f16', 'bf16'] as const;

function triple(v: number | readonly [number, number, number] | undefined): [number, number, number] {
  if (v === undefined) return [0, 0, 0];
  return typeof v === 'number' ? [v, v, v] : [v[0], v[1], v[2]];
}

function addConvNode(g: GraphBuilder, family: string, spec: ConvShapeSpec, x: Value, w: Value, b: Value | null, o: ConvOpOptions & { cache?: Value }): Value {
  const node = o.name ?? family;
  let geo;
  try {
    geo = convGeometry(spec);
  } catch (e) {
    throw new GraphError(`${node}: ${(e as Error).message}`);
  }
  if (geo.outF < 1 || geo.outH < 1 || geo.outW < 1) {
    throw new GraphError(`${node}: kernel ${spec.kernel.join('x')} does not fit input ${shapeString(x.shape)}`);
  }
  const outShape: Shape = [spec.cout, geo.outF, geo.outH, geo.outW];
  if (b) {
    expectDtype(node, 'bias', b, ['f32']);
    if (b.shape.reduce((a, c) => a * c, 1) !== spec.cout) throw new GraphError(`${node}: bias ${shapeString(b.shape)} does not have ${spec.cout} values`);
  }
  if (o.residual) {
    expectDtype(node, 'residual', o.residual, ['f32']);
    expectShape(node, 'residual', o.residual, outShape);
  }
  const useCache = spec.cacheFrames > 0 && o.cache !== undefined;
  const inputs: Value[] = [x];
  if (useCache) inputs.push(o.cache!);
  inputs.push(w);
  if (b) inputs.push(b);
  if (o.residual) inputs.push(o.residual);
  const variant = typeof o.variant === 'function' ? o.variant(spec) : (o.variant ?? DEFAULT_WGTILE);
  const uniforms = convUniforms(spec);
  const [out] = g.addNode({
    name: o.name,
    family,
    inputs,
    outputs: [{ shape: outShape, dtype: 'f32' }],
    flops: geo.flops,
    lower: (ins, outs) => [{ program: convProgram({ ...spec, variant }), bindings: [...ins, outs[0]!], uniforms }],
  });
  return out!;
}

/**
 * Causal Conv3d: x [Cin, F, H, W], w [Cout, Cin, kt, kh, kw], b [Cout] or null ->
 * [Cout, F', H', W'].
 */
export function conv3dOp(g: GraphBuilder, x: Value, w: Value, b: Value | null, opts: Conv3dOpOptions = {}): Value {
  const node = opts.name ?? 'conv3d';
  expectDtype(node, 'input', x, ['f32']);
  expectDtype(node, 'weight', w, WEIGHT_DTYPES);
  if (x.shape.length !== 4) throw new GraphError(`${node}: input must be [C, F, H, W], got ${shapeString(x.shape)}`);
  if (w.shape.length !== 5) throw new GraphError(`${node}: weight must be [Cout, Cin, kt, kh, kw], got ${shapeString(w.shape)}`);
  const [cin, f, h, wd] = x.shape as [number, number, number, number];
  const [cout, wcin, kt, kh, kw] = w.shape as [number, number, number, number, number];
  if (wcin !== cin) throw new GraphError(`${node}: weight ${shapeString(w.shape)} expects ${wcin} input channels, input has ${cin}`);
  const [pt, ph, pw] = triple(opts.padding);
  const stride = opts.stride === undefined ? [1, 1, 1] : triple(opts.stride);
  const cache = opts.cache;
  let cacheTotal = 0;
  if (cache) {
    expectDtype(node, 'cache', cache, ['f32']);
    expectShape(node, 'cache', cache, [cin, -1, h, wd]);
    cacheTotal = cache.shape[1]!;
  }
  const cacheFrames = cache ? (opts.cacheFrames ?? cacheTotal) : 0;
  if (cacheFrames > cacheTotal) throw new GraphError(`${node}: ${cacheFrames} cache frames asked of a ${cacheTotal}-frame cache`);
  const spec: ConvShapeSpec = {
    cin,
    cout,
    inF: f,
    inH: h,
    inW: wd,
    kernel: [kt, kh, kw],
    stride: stride as [number, number, number],
    pad: { front: 2 * pt, top: ph, bottom: ph, left: pw, right: pw },
    cacheFrames,
    cacheTotalFrames: cacheTotal,
    weight: w.dtype as ConvShapeSpec['weight'],
    bias: b !== null,
    residual: opts.residual !== undefined,
  };
  return addConvNode(g, 'conv3d', spec, x, w, b, { ...opts, cache });
}

/** Conv2d on every frame: x [Cin, F, H, W], w [Cout, Cin, kh, kw] -> [Cout, F, H', W']. */
export function conv2dOp(g: GraphBuilder, x: Value, w: Value, b: Value | null, opts: Conv2dOpOptions = {}): Value {
  const node = opts.name ?? 'conv2d';
  expectDtype(node, 'input', x, ['f32']);
  expectDtype(node, 'weight', w, WEIGHT_DTYPES);
  if (x.shape.length !== 4) throw new GraphError(`${node}: input must be [C, F, H, W], got ${shapeString(x.shape)}`);
  if (w.shape.length !== 4) throw new GraphError(`${node}: weight must be [Cout, Cin, kh, kw], got ${shapeString(w.shape)}`);
  const [cin, f, h, wd] = x.shape as [number, number, number, number];
  const [cout, wcin, kh, kw] = w.shape as [number, number, number, number];
  if (wcin !== cin) throw new GraphError(`${node}: weight ${shapeString(w.shape)} expects ${wcin} input channels, input has ${cin}`);
  const p = opts.padding ?? 0;
  const pad = typeof p === 'number' ? { front: 0, top: p, bottom: p, left: p, right: p } : { front: 0, ...p };
  const s = opts.stride ?? 1;
  const [sh, sw] = typeof s === 'number' ? [s, s] : s;
  const spec: ConvShapeSpec = {
    cin,
    cout,
    inF: f,
    inH: h,
    inW: wd,
    kernel: [1, kh, kw],
    stride: [1, sh, sw],
    pad,
    cacheFrames: 0,
    cacheTotalFrames: 0,
    weight: w.dtype as ConvShapeSpec['weight'],
    bias: b !== null,
    residual: opts.residual !== undefined,
  };
  // The kernel reads the weight as [Cout, Cin, 1, kh, kw]: the same memory.
  return addConvNode(g, 'conv2d', spec, x, g.reshape(w, [cout, cin, 1, kh, kw]), b, opts);
}
