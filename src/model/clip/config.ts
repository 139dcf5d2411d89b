// CLIP vision configuration (image_encoder/config.json, HF CLIPVisionConfig) and the image
// processor settings (image_processor/preprocessor_config.json, CLIPImageProcessor).
import { jsonBrief } from '../../io/json-bounded.ts';
import { InputError } from '../../runtime/errors.ts';
import { configObject, fieldReader, MAX_LAYERS, MAX_WIDTH } from '../config-fields.ts';

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

const clipError = (m: string) => new ClipModelError(m);

export function clipConfigFromJson(top: unknown, source: string): ClipVisionConfig {
  const raw = configObject(top, source, clipError);
  // CLIPModel configs nest the vision part.
  const json = raw.vision_config === undefined || raw.vision_config === null ? raw : configObject(raw.vision_config, `${source}: vision_config`, clipError);
  const f = fieldReader(json, source, clipError);
  const actName = json.hidden_act ?? 'quick_gelu';
  const act = typeof actName === 'string' && Object.prototype.hasOwnProperty.call(ACTS, actName) ? ACTS[actName] : undefined;
  if (!act) throw new ClipModelError(`${source}: hidden_act ${typeof actName === 'string' ? `'${actName.slice(0, 40)}'` : jsonBrief(actName)} is not supported (use gelu, quick_gelu or gelu_new)`);
  const c: ClipVisionConfig = {
    hiddenSize: f.int('hidden_size', { max: MAX_WIDTH }),
    intermediateSize: f.int('intermediate_size', { max: MAX_WIDTH }),
    numHeads: f.int('num_attention_heads', { max: 4096 }),
    numLayers: f.int('num_hidden_layers', { max: MAX_LAYERS }),
    imageSize: f.int('image_size', { max: 8192 }),
    patchSize: f.int('patch_size', { max: 8192 }),
    channels: f.int('num_channels', { max: 4096 }, 3),
    eps: f.num('layer_norm_eps', { above: 0, max: 1 }, 1e-5),
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

/** Image sides egox resizes to: CLIP uses 224-336; beyond this a config is not CLIP's. */
const MAX_SIDE = 8192;
const isSide = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= MAX_SIDE;

function sizeField(v: unknown, source: string, field: string): { height: number; width: number; shortest?: number } {
  if (isSide(v)) return { height: v, width: v, shortest: v };
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (isSide(o.shortest_edge)) return { height: o.shortest_edge, width: o.shortest_edge, shortest: o.shortest_edge };
    if (isSide(o.height) && isSide(o.width)) return { height: o.height, width: o.width };
  }
  throw new ClipModelError(`${source}: field '${field}' must be a size of 1 to ${MAX_SIDE} pixels (a number, {shortest_edge} or {height, width}), got ${jsonBrief(v)}`);
}

function triple(v: unknown, source: string, field: string): [number, number, number] {
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    if (field !== 'image_std' || v.every((x) => (x as number) > 0)) return v as [number, number, number];
  }
  throw new ClipModelError(`${source}: field '${field}' must be three ${field === 'image_std' ? 'positive ' : ''}numbers (R, G, B), got ${jsonBrief(v)}`);
}

export function preprocessConfigFromJson(raw: unknown, source: string): ClipPreprocessConfig {
  const json = configObject(raw, source, clipError);
  if (json.do_resize === false || json.do_center_crop === false) throw new ClipModelError(`${source}: do_resize / do_center_crop false is not supported (egox resizes and centre-crops as CLIP does)`);
  if (json.resample !== undefined && json.resample !== 3) throw new ClipModelError(`${source}: resample ${jsonBrief(json.resample)} is not supported (egox implements bicubic, 3)`);
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
