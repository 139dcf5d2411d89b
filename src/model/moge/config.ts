// MoGe-2 configuration: the checkpoint's model_config (encoder / neck / heads / scale_head /
// remap_output / num_tokens_range) checked field by field, and the DINOv2 backbone's shape
// inferred from the weights (width, depth, heads = width / 64, registers, position grid,
// patch, MLP width), so a checkpoint with a backbone name egox has not seen still loads.

import { InputError } from '../../runtime/errors.ts';
import { MOGE_HEADS, MOGE_NAMES, type MogeHead } from './names.ts';

/** A MoGe-2 checkpoint or its model_config that egox cannot use: one line, exit 2. */
export class MogeModelError extends InputError {
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, ' '));
  }
}

export type Resampler = 'conv_transpose' | 'bilinear' | 'nearest' | 'pixel_shuffle';
export type StackNorm = 'none' | 'layer_norm' | 'group_norm' | 'instance_norm';
export type Remap = 'linear' | 'sinh' | 'exp' | 'sinh_exp';

export interface ConvStackConfig {
  dimIn: (number | null)[];
  dimResBlocks: number[];
  dimOut: (number | null)[];
  resamplers: Resampler[];
  numResBlocks: number[];
  dimTimesResBlockHidden: number;
  inNorm: StackNorm;
  hiddenNorm: StackNorm;
}

export interface BackboneShape {
  name: string;
  width: number;
  depth: number;
  heads: number;
  patch: number;
  mlpHidden: number;
  registers: number;
  /** Side of the square position-embedding grid (37 for DINOv2's 518 px). */
  posGrid: number;
  /** Position-embedding resize: DINOv2 offsets the scale factor by 0.1; registered models resize by size with antialias. */
  posInterpolation: { offset: number; antialias: boolean };
}

export interface MogeConfig {
  backbone: BackboneShape;
  /** Indices of the blocks whose outputs are projected (ascending). */
  intermediateLayers: number[];
  dimOut: number;
  neck: ConvStackConfig;
  heads: Partial<Record<MogeHead, ConvStackConfig>>;
  scaleDims?: number[];
  remap: Remap;
  numTokensRange: [number, number];
}

type Obj = Record<string, unknown>;
type Shapes = ReadonlyMap<string, { shape: number[] }>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const posInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;

function fail(source: string, field: string, want: string): never {
  throw new MogeModelError(`${source}: model_config.${field} ${want}`);
}

function perLevel<T>(v: unknown, n: number, ok: (x: unknown) => boolean, source: string, field: string, want: string): T[] {
  if (Array.isArray(v)) {
    if (v.length < n || !v.every(ok)) fail(source, field, `must be ${want} or a list of ${n} of them`);
    return v.slice(0, n) as T[];
  }
  if (!ok(v)) fail(source, field, `must be ${want} or a list of ${n} of them`);
  return Array.from({ length: n }, () => v as T);
}

const RESAMPLERS: readonly string[] = ['conv_transpose', 'bilinear', 'nearest', 'pixel_shuffle'];
const NORMS: readonly string[] = ['none', 'layer_norm', 'group_norm', 'instance_norm'];

function convStack(raw: unknown, source: string, field: string): ConvStackConfig {
  if (!isObj(raw)) fail(source, field, 'must be an object');
  const dims = raw.dim_res_blocks;
  if (!Array.isArray(dims) || dims.length < 1 || !dims.every(posInt)) fail(source, `${field}.dim_res_blocks`, 'must be a list of positive integers');
  const n = dims.length;
  const intOrNull = (x: unknown) => x === null || posInt(x);
  const resamplers = perLevel<string>(raw.resamplers, n - 1, (x) => typeof x === 'string', source, `${field}.resamplers`, 'a resampler name');
  for (const r of resamplers) if (!RESAMPLERS.includes(r)) fail(source, `${field}.resamplers`, `names '${r}'; egox implements ${RESAMPLERS.join(', ')}`);
  const norm = (k: string, dflt: string): StackNorm => {
    const v = raw[k] ?? dflt;
    if (typeof v !== 'string' || !NORMS.includes(v)) fail(source, `${field}.${k}`, `is ${JSON.stringify(v)}; egox implements ${NORMS.join(', ')}`);
    return v as StackNorm;
  };
  const act = raw.activation ?? 'relu';
  if (act !== 'relu') fail(source, `${field}.activation`, `is ${JSON.stringify(act)}; egox implements relu`);
  const times = raw.dim_times_res_block_hidden ?? 1;
  if (!posInt(times)) fail(source, `${field}.dim_times_res_block_hidden`, 'must be a positive integer');
  return {
    dimIn: perLevel<number | null>(raw.dim_in, n, intOrNull, source, `${field}.dim_in`, 'an integer or null'),
    dimResBlocks: dims as number[],
    dimOut: perLevel<number | null>(raw.dim_out, n, intOrNull, source, `${field}.dim_out`, 'an integer or null'),
    resamplers: resamplers as Resampler[],
    numResBlocks: perLevel<number>(raw.num_res_blocks ?? 1, n, (x) => typeof x === 'number' && Number.isInteger(x) && x >= 0, source, `${field}.num_res_blocks`, 'a count'),
    dimTimesResBlockHidden: times as number,
    inNorm: norm('res_block_in_norm', 'layer_norm'),
    hiddenNorm: norm('res_block_hidden_norm', 'group_norm'),
  };
}

/** The backbone's shape from the weights (tensor shapes by checkpoint key). */
export function inferBackbone(name: string, shapes: Shapes, source: string): BackboneShape {
  const shape = (key: string) => shapes.get(key)?.shape;
  const patchW = shape(`${MOGE_NAMES.patchEmbed}.weight`);
  if (!patchW || patchW.length !== 4 || patchW[1] !== 3 || patchW[2] !== patchW[3]) {
    throw new MogeModelError(`${source}: no DINOv2 patch embedding '${MOGE_NAMES.patchEmbed}.weight' [width, 3, p, p]; is this a MoGe checkpoint?`);
  }
  const width = patchW[0]!;
  let depth = 0;
  while (shapes.has(`${MOGE_NAMES.block(depth).qkv}.weight`)) depth++;
  if (depth === 0) throw new MogeModelError(`${source}: the backbone has no blocks ('${MOGE_NAMES.block(0).qkv}.weight' missing)`);
  if (shapes.has(`${MOGE_NAMES.block(0).swiglu}.weight`)) throw new MogeModelError(`${source}: the backbone uses a SwiGLU FFN (ViT-g); egox implements the MLP FFN of ViT-S/B/L`);
  const fc1 = shape(`${MOGE_NAMES.block(0).fc1}.weight`);
  if (!fc1 || fc1.length !== 2 || fc1[1] !== width) throw new MogeModelError(`${source}: '${MOGE_NAMES.block(0).fc1}.weight' missing or not [hidden, ${width}]`);
  if (width % 64 !== 0) throw new MogeModelError(`${source}: backbone width ${width} is not a multiple of the head size 64`);
  const pos = shape(MOGE_NAMES.posEmbed);
  const grid = pos ? Math.round(Math.sqrt(pos[1]! - 1)) : 0;
  if (!pos || pos.length !== 3 || pos[2] !== width || grid * grid + 1 !== pos[1]) {
    throw new MogeModelError(`${source}: '${MOGE_NAMES.posEmbed}' must be [1, 1 + g*g, ${width}]`);
  }
  const reg = shape(MOGE_NAMES.registerTokens);
  const registers = reg ? reg[1]! : 0;
  return {
    name,
    width,
    depth,
    heads: width / 64,
    patch: patchW[2]!,
    mlpHidden: fc1[0]!,
    registers,
    posGrid: grid,
    // The hub's *_reg backbones resize the table by size with antialias; the others by the
    // scale factor (size + 0.1) / grid.
    posInterpolation: registers > 0 || name.endsWith('_reg') ? { offset: 0, antialias: true } : { offset: 0.1, antialias: false },
  };
}

export function mogeConfig(raw: unknown, shapes: Shapes, source: string): MogeConfig {
  if (!isObj(raw)) throw new MogeModelError(`${source}: model_config must be an object`);
  const enc = raw.encoder;
  if (!isObj(enc)) fail(source, 'encoder', 'must be an object');
  if (typeof enc.backbone !== 'string') fail(source, 'encoder.backbone', 'must be a backbone name');
  const backbone = inferBackbone(enc.backbone, shapes, source);
  const il = enc.intermediate_layers;
  let layers: number[];
  if (posInt(il)) {
    if ((il as number) > backbone.depth) fail(source, 'encoder.intermediate_layers', `asks for the last ${il} of ${backbone.depth} blocks`);
    layers = Array.from({ length: il as number }, (_, i) => backbone.depth - (il as number) + i);
  } else if (Array.isArray(il) && il.length > 0 && il.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < backbone.depth)) {
    layers = [...(il as number[])].sort((a, b) => a - b);
    if (new Set(layers).size !== layers.length) fail(source, 'encoder.intermediate_layers', 'lists a block twice');
  } else {
    fail(source, 'encoder.intermediate_layers', `must be a count or a list of block indices below ${backbone.depth}`);
  }
  if (!posInt(enc.dim_out)) fail(source, 'encoder.dim_out', 'must be a positive integer');
  const neck = convStack(raw.neck, source, 'neck');
  if (neck.dimResBlocks.length !== 5) fail(source, 'neck.dim_res_blocks', `has ${neck.dimResBlocks.length} levels; MoGe-2 has 5 (the grid and four 2x upsamplings)`);
  if (neck.dimIn[0] !== (enc.dim_out as number) + 2 || neck.dimIn.slice(1).some((d) => d !== 2)) {
    fail(source, 'neck.dim_in', `must be [${(enc.dim_out as number) + 2}, 2, 2, 2, 2] (features + uv, then uv)`);
  }
  const heads: MogeConfig['heads'] = {};
  for (const h of MOGE_HEADS) {
    if (raw[h] === undefined || raw[h] === null) continue;
    const c = convStack(raw[h], source, h);
    if (c.dimResBlocks.length !== 5 || c.dimIn.some((d, i) => d !== null && d !== neck.dimResBlocks[i])) {
      fail(source, `${h}.dim_in`, `must take the neck's 5 levels [${neck.dimResBlocks.join(', ')}]`);
    }
    const out = c.dimOut[4];
    const want = h === 'mask_head' ? 1 : 3;
    if (out !== want) fail(source, `${h}.dim_out`, `must end in ${want} channels`);
    heads[h] = c;
  }
  let scaleDims: number[] | undefined;
  if (isObj(raw.scale_head)) {
    const d = raw.scale_head.dims;
    if (!Array.isArray(d) || d.length < 2 || !d.every(posInt) || d[0] !== backbone.width || d[d.length - 1] !== 1) {
      fail(source, 'scale_head.dims', `must be positive integers from ${backbone.width} to 1`);
    }
    scaleDims = d as number[];
  }
  const remap = raw.remap_output ?? 'linear';
  if (typeof remap !== 'string' || !['linear', 'sinh', 'exp', 'sinh_exp'].includes(remap)) fail(source, 'remap_output', 'must be linear, sinh, exp or sinh_exp');
  const range = raw.num_tokens_range ?? [1200, 3600];
  if (!Array.isArray(range) || range.length !== 2 || !range.every(posInt)) fail(source, 'num_tokens_range', 'must be two positive integers');
  return {
    backbone,
    intermediateLayers: layers,
    dimOut: enc.dim_out as number,
    neck,
    heads,
    scaleDims,
    remap: remap as Remap,
    numTokensRange: range as [number, number],
  };
}

/** The ViT token grid for an image and a token budget, rounded as the official forward does. */
export function tokenGrid(height: number, width: number, numTokens: number): { rows: number; cols: number } {
  const aspect = width / height;
  // Python's round() rounds halves to even.
  const round = (v: number) => {
    const f = Math.floor(v);
    const d = v - f;
    return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
  };
  return { rows: Math.max(1, round(Math.sqrt(numTokens / aspect))), cols: Math.max(1, round(Math.sqrt(numTokens * aspect))) };
}

/** num_tokens from resolution_level 0..9 (official infer: int(min + level / 9 * (max - min))). */
export function tokensForLevel(c: MogeConfig, level = 9): number {
  const [lo, hi] = c.numTokensRange;
  return Math.trunc(lo + (level / 9) * (hi - lo));
}
