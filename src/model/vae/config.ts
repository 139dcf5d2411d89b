// Wan2.1 VAE configuration (diffusers AutoencoderKLWan's config.json keys) and the layer
// layout it implies: which residual blocks, resamplers and channel counts the encoder and
// decoder have. The graph builders and the weight-name table both walk this layout.
import { jsonBrief } from '../../io/json-bounded.ts';
import { InputError } from '../../runtime/errors.ts';
import { configObject, fieldReader } from '../config-fields.ts';

export interface VaeConfig {
  /** Channels of the first level (96 in Wan2.1). */
  baseDim: number;
  /** Latent channels (16). */
  zDim: number;
  dimMult: readonly number[];
  numResBlocks: number;
  /** Per encoder level below the top: halve the frame count too (decoder: reversed). */
  temporalDownsample: readonly boolean[];
  /** Per-channel latent statistics: z = (mu - mean) / std. */
  latentsMean: readonly number[];
  latentsStd: readonly number[];
}

/** The published statistics of the Wan2.1 latent space. */
export const WAN21_LATENTS_MEAN = [
  -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497,
  0.2503, -0.2921,
];
export const WAN21_LATENTS_STD = [
  2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251,
  1.916,
];

export const WAN21_VAE: VaeConfig = {
  baseDim: 96,
  zDim: 16,
  dimMult: [1, 2, 4, 4],
  numResBlocks: 2,
  temporalDownsample: [false, true, true],
  latentsMean: WAN21_LATENTS_MEAN,
  latentsStd: WAN21_LATENTS_STD,
};

/** Spatial and temporal compression: 8x8 pixels and 4 frames per latent (after the first). */
export function spatialFactor(cfg: VaeConfig): number {
  return 2 ** (cfg.dimMult.length - 1);
}

export function temporalFactor(cfg: VaeConfig): number {
  return 2 ** cfg.temporalDownsample.filter(Boolean).length;
}

export class VaeConfigError extends InputError {}

/** Reads diffusers' config.json keys (unknown keys ignored); missing ones take Wan2.1's values. */
export function configFromJson(raw: unknown, where: string): VaeConfig {
  const error = (m: string) => new VaeConfigError(m);
  const json = configObject(raw, where, error);
  const f = fieldReader(json, where, error);
  const arr = <T>(k: string, d: readonly T[], maxLength: number, check: (x: unknown) => boolean, what: string): readonly T[] => {
    const v = json[k] ?? d;
    if (!Array.isArray(v) || v.length === 0 || v.length > maxLength || !v.every(check)) {
      throw new VaeConfigError(`${where}: '${k}' must be a list of 1 to ${maxLength} ${what}, got ${jsonBrief(v)}`);
    }
    return v as T[];
  };
  const isNum = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  const cfg: VaeConfig = {
    // Bounds far above Wan2.1's (96, 16, [1,2,4,4], 2) that keep the layer walk and the
    // channel counts small numbers whatever the file says.
    baseDim: f.int('base_dim', { max: 4096 }, WAN21_VAE.baseDim),
    zDim: f.int('z_dim', { max: 1024 }, WAN21_VAE.zDim),
    dimMult: arr('dim_mult', WAN21_VAE.dimMult, 8, (x) => Number.isInteger(x) && (x as number) > 0 && (x as number) <= 64, 'whole numbers 1-64'),
    numResBlocks: f.int('num_res_blocks', { max: 16 }, WAN21_VAE.numResBlocks),
    temporalDownsample: arr('temperal_downsample', WAN21_VAE.temporalDownsample, 7, (x) => typeof x === 'boolean', 'booleans'),
    latentsMean: arr('latents_mean', WAN21_VAE.latentsMean, 1024, isNum, 'numbers'),
    latentsStd: arr('latents_std', WAN21_VAE.latentsStd, 1024, isNum, 'numbers'),
  };
  if (json.is_residual === true || (json.patch_size !== undefined && json.patch_size !== null && json.patch_size !== 1)) {
    throw new VaeConfigError(`${where}: this is a Wan2.2-style VAE (is_residual / patch_size); egox supports the Wan2.1 VAE`);
  }
  checkConfig(cfg, where);
  return cfg;
}

export function checkConfig(cfg: VaeConfig, where: string): void {
  if (cfg.temporalDownsample.length !== cfg.dimMult.length - 1) {
    throw new VaeConfigError(`${where}: temperal_downsample has ${cfg.temporalDownsample.length} entries for ${cfg.dimMult.length} levels (need ${cfg.dimMult.length - 1})`);
  }
  if (cfg.latentsMean.length !== cfg.zDim || cfg.latentsStd.length !== cfg.zDim) {
    throw new VaeConfigError(`${where}: latents_mean/latents_std have ${cfg.latentsMean.length}/${cfg.latentsStd.length} values for z_dim ${cfg.zDim}`);
  }
  if (cfg.latentsStd.some((s) => !(s > 0))) throw new VaeConfigError(`${where}: latents_std must be positive`);
}

// ---- layout ---------------------------------------------------------------------------------

export type EncoderLayer =
  | { kind: 'res'; index: number; cin: number; cout: number }
  | { kind: 'down'; index: number; dim: number; temporal: boolean };

/** The encoder's flat down_blocks list and the channels of its top level. */
export function encoderLayers(cfg: VaeConfig): { layers: EncoderLayer[]; top: number } {
  const dims = [1, ...cfg.dimMult].map((m) => cfg.baseDim * m);
  const layers: EncoderLayer[] = [];
  for (let level = 0; level < cfg.dimMult.length; level++) {
    let cin = dims[level]!;
    const cout = dims[level + 1]!;
    for (let r = 0; r < cfg.numResBlocks; r++) {
      layers.push({ kind: 'res', index: layers.length, cin, cout });
      cin = cout;
    }
    if (level < cfg.dimMult.length - 1) {
      layers.push({ kind: 'down', index: layers.length, dim: cout, temporal: cfg.temporalDownsample[level]! });
    }
  }
  return { layers, top: dims[dims.length - 1]! };
}

export interface DecoderBlock {
  index: number;
  cin: number;
  cout: number;
  /** Resnets cin -> cout, then cout -> cout (numResBlocks + 1 in all). */
  resnets: number;
  upsample: 'upsample2d' | 'upsample3d' | null;
}

/** The decoder's up_blocks; `top` is the channel count of conv_in and the middle. */
export function decoderBlocks(cfg: VaeConfig): { blocks: DecoderBlock[]; top: number; last: number } {
  const mult = cfg.dimMult;
  const dims = [mult[mult.length - 1]!, ...[...mult].reverse()].map((m) => cfg.baseDim * m);
  const temporalUp = [...cfg.temporalDownsample].reverse();
  const blocks: DecoderBlock[] = [];
  for (let i = 0; i < mult.length; i++) {
    // Each upsample halves the channels, so blocks after the first start from half.
    const cin = i > 0 ? dims[i]! / 2 : dims[i]!;
    const up = i < mult.length - 1 ? (temporalUp[i] ? 'upsample3d' : 'upsample2d') : null;
    blocks.push({ index: i, cin, cout: dims[i + 1]!, resnets: cfg.numResBlocks + 1, upsample: up });
  }
  return { blocks, top: dims[0]!, last: dims[dims.length - 1]! };
}
