// CLIP vision weights in either naming: a Hugging Face checkpoint as is, or the original Wan2.1
// release's (q, k, v read as row blocks of the fused to_qkv); and the config of a file without
// config.json, read from the tensor shapes.

import { RowBlockSource, type RowBlock } from '../../graph/weight-views.ts';
import { WeightStore, type WeightSource } from '../../graph/weights.ts';
import { ClipModelError, type ClipVisionConfig } from './config.ts';
import { CLIP_NAMES, clipOriginalName, type ClipLayout } from './names.ts';

/** Head width of ViT-H/14 (16 heads of 80): files without a config do not say it. */
export const CLIP_HEAD_WIDTH = 80;

/** Graph (Hugging Face) name -> the name a store reads for a layout. */
function keyFor(layout: ClipLayout): (hfName: string) => string {
  if (layout === 'huggingface') return (n) => n;
  // Fused q/k/v keep their Hugging Face name: the row-block view serves them under it.
  return (n) => {
    const o = clipOriginalName(n);
    return !o || o.block ? n : o.key;
  };
}

/** The store a CLIP graph reads, whatever the checkpoint's naming. */
export function clipWeightStore(source: WeightSource, where: string, layout: ClipLayout, fp8Scales: ReadonlyMap<string, number> = new Map()): WeightStore {
  if (layout === 'huggingface') return new WeightStore(source, where, undefined, fp8Scales);
  const blocks = new Map<string, RowBlock>();
  const scales = new Map(fp8Scales);
  for (let i = 0; source.tensors.has(`visual.transformer.${i}.attn.to_qkv.weight`); i++) {
    const l = CLIP_NAMES.layer(i);
    for (const proj of [l.q, l.k, l.v]) {
      for (const part of ['weight', 'bias']) {
        const o = clipOriginalName(`${proj}.${part}`)!;
        blocks.set(`${proj}.${part}`, { key: o.key, ...o.block! });
        // A scaled fp8 to_qkv: each third is read under its own name with the fused tensor's scale.
        const scale = fp8Scales.get(o.key);
        if (scale !== undefined) scales.set(`${proj}.${part}`, scale);
      }
    }
  }
  return new WeightStore(new RowBlockSource(source, blocks), where, keyFor(layout), scales);
}

/**
 * ViT structure from the shapes: width and patch from the patch embedding, the image size from
 * the position table (1 + grid^2 rows), the MLP width, the layer count; heads of 80 (ViT-H/14),
 * exact GELU and eps 1e-5 as in Wan's image encoder.
 */
export function clipConfigFromShapes(shape: (hfName: string) => readonly number[] | undefined, where: string): ClipVisionConfig {
  const need = (k: string): readonly number[] => {
    const s = shape(k);
    if (!s) throw new ClipModelError(`${where}: tensor for '${k}' missing; cannot infer the CLIP configuration (add a config.json)`);
    return s;
  };
  const patch = need(CLIP_NAMES.patchEmbedding); // [hidden, 3, P, P]
  const hidden = patch[0]!;
  const tokens = need(CLIP_NAMES.positionEmbedding).slice(-2)[0]!;
  const grid = Math.round(Math.sqrt(tokens - 1));
  if (grid * grid + 1 !== tokens) throw new ClipModelError(`${where}: position table of ${tokens} rows is not 1 + a square grid`);
  let layers = 0;
  while (shape(`${CLIP_NAMES.layer(layers).fc1}.weight`)) layers++;
  if (hidden % CLIP_HEAD_WIDTH !== 0) throw new ClipModelError(`${where}: width ${hidden} is not a multiple of ViT-H's head width ${CLIP_HEAD_WIDTH}; add a config.json naming num_attention_heads`);
  if (layers < 2) throw new ClipModelError(`${where}: ${layers} layers; hidden_states[-2] needs at least 2`);
  return {
    hiddenSize: hidden,
    intermediateSize: need(`${CLIP_NAMES.layer(0).fc1}.weight`)[0]!,
    numHeads: hidden / CLIP_HEAD_WIDTH,
    numLayers: layers,
    imageSize: grid * patch[2]!,
    patchSize: patch[2]!,
    channels: 3,
    eps: 1e-5,
    act: 'gelu',
  };
}
