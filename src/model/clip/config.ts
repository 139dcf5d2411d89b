// CLIP vision configuration (image_encoder/config.json, HF CLIPVisionConfig) and the image
// processor settings (image_processor/preprocessor_config.json, CLIPImageProcessor).
import { InputError } from '../../runtime/errors.ts';

export interface ClipVisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  numLayers: number;
  imageSize: number;
  patchSize: number;
  channels: number;
  eps: number;
  act: 'gelu' | 'gelu_tanh' | 'quick_gelu';
}

export interface ClipPreprocessConfig {
  shortestEdge: number;
  cropHeight: number;
  cropWidth: number;
  mean: [number, number, number];
  std: [number, number, number];
}

/** ViT-H/14 of Wan2.1's image encoder (laion CLIP-ViT-H-14). */
export const CLIP_VIT_H14: ClipVisionConfig = { hiddenSize: 1280, intermediateSize: 5120, numHeads: 16, numLayers: 32, imageSize: 224, patchSize: 14, channels: 3, eps: 1e-5, act: 'gelu' };
export const OPENAI_CLIP_PREPROCESS: ClipPreprocessConfig = {
  shortestEdge: 224,
  cropHeight: 224,
  cropWidth: 224,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
};

export class ClipModelError extends InputError {
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, ' '));
  }
}

const ACTS: Record<string, ClipVisionConfig['act']> = { gelu: 'gelu', quick_gelu: 'quick_gelu', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh' };

export function clipConfigFromJson(raw: Record<string, unknown>, source: string): ClipVisionConfig {
  // CLIPModel configs nest the vision part.
  const json = (typeof raw.vision_config === 'object' && raw.vision_config !== null ? raw.vision_config : raw) as Record<string, unknown>;
  const num = (k: string, dflt?: number): number => {
    const v = json[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ClipModelError(`${source}: field '${k}' is missing or not a positive integer`);
    return v;
  };
  const actName = String(json.hidden_act ?? 'quick_gelu');
  const act = ACTS[actName];
  if (!act) throw new ClipModelError(`${source}: hidden_act '${actName}' is not supported (use gelu, quick_gelu or gelu_new)`);
  const eps = json.layer_norm_eps ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw new ClipModelError(`${source}: field 'layer_norm_eps' must be a positive number`);
  const c: ClipVisionConfig = {
    hiddenSize: num('hidden_size'),
    intermediateSize: num('intermediate_size'),
    numHeads: num('num_attention_heads'),
    numLayers: num('num_hidden_layers'),
    imageSize: num('image_size'),
    patchSize: num('patch_size'),
    channels: num('num_channels', 3),
    eps,
    act,
  };
  if (c.channels !== 3) throw new ClipModelError(`${source}: num_channels ${c.channels}; egox encodes RGB images (3)`);
  if (c.imageSize % c.patchSize !== 0) throw new ClipModelError(`${source}: image_size ${c.imageSize} is not a multiple of patch_size ${c.patchSize}`);
  if (c.hiddenSize % c.numHeads !== 0 || (c.hiddenSize / c.numHeads) % 4 !== 0) {
    throw new ClipModelError(`${source}: hidden_size ${c.hiddenSize} / ${c.numHeads} heads must give a head dim that is a multiple of 4`);
  }
  if (c.numLayers < 2) throw new ClipModelError(`${source}: num_hidden_layers ${c.numLayers}; hidden_states[-2] needs at least 2 layers`);
  return c;
}

function sizeField(v: unknown, source: string, field: string): { height: number; width: number; shortest?: number } {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return { height: v, width: v, shortest: v };
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (typeof o.shortest_edge === 'number') return { height: o.shortest_edge, width: o.shortest_edge, shortest: o.shortest_edge };
    if (typeof o.height === 'number' && typeof o.width === 'number') return { height: o.height, width: o.width };
  }
  throw new ClipModelError(`${source}: field '${field}' must be a size (a number, {shortest_edge} or {height, width})`);
}

function triple(v: unknown, source: string, field: string): [number, number, number] {
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) return v as [number, number, number];
  throw new ClipModelError(`${source}: field '${field}' must be three numbers (R, G, B)`);
}

export function preprocessConfigFromJson(json: Record<string, unknown>, source: string): ClipPreprocessConfig {
  if (json.do_resize === false || json.do_center_crop === false) throw new ClipModelError(`${source}: do_resize / do_center_crop false is not supported (egox resizes and centre-crops as CLIP does)`);
  if (json.resample !== undefined && json.resample !== 3) throw new ClipModelError(`${source}: resample ${JSON.stringify(json.resample)} is not supported (egox implements bicubic, 3)`);
  const size = sizeField(json.size ?? 224, source, 'size');
  if (size.shortest === undefined) throw new ClipModelError(`${source}: 'size' must give shortest_edge (egox resizes the short side)`);
  const crop = sizeField(json.crop_size ?? size.shortest, source, 'crop_size');
  const normalize = json.do_normalize !== false;
  return {
    shortestEdge: size.shortest,
    cropHeight: crop.height,
    cropWidth: crop.width,
    mean: normalize ? triple(json.image_mean ?? OPENAI_CLIP_PREPROCESS.mean, source, 'image_mean') : [0, 0, 0],
    std: normalize ? triple(json.image_std ?? OPENAI_CLIP_PREPROCESS.std, source, 'image_std') : [1, 1, 1],
  };
}
