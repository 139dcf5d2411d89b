// Hugging Face CLIPVisionModel weight names (CLIPVisionModelWithProjection has the same
// vision_model.* tensors plus visual_projection, which hidden_states[-2] does not use).

const P = 'vision_model';

export const CLIP_NAMES = {
  classEmbedding: `${P}.embeddings.class_embedding`,
  patchEmbedding: `${P}.embeddings.patch_embedding.weight`,
  positionEmbedding: `${P}.embeddings.position_embedding.weight`,
  preNorm: `${P}.pre_layrnorm`,
  layer(i: number) {
    const p = `${P}.encoder.layers.${i}`;
    return {
      norm1: `${p}.layer_norm1`,
      q: `${p}.self_attn.q_proj`,
      k: `${p}.self_attn.k_proj`,
      v: `${p}.self_attn.v_proj`,
      o: `${p}.self_attn.out_proj`,
      norm2: `${p}.layer_norm2`,
      fc1: `${p}.mlp.fc1`,
      fc2: `${p}.mlp.fc2`,
    };
  },
} as const;

/**
 * The original Wan2.1 release's names (models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth,
 * Wan's XLMRobertaCLIP; only `visual.*` is read): rows [Hugging Face, original], `N` a layer.
 * q, k and v are the three row blocks of the fused `attn.to_qkv` (marked `#0`..`#2`).
 */
export const CLIP_ORIGINAL_TABLE: readonly (readonly [string, string])[] = [
  [`${P}.embeddings.class_embedding`, 'visual.cls_embedding'],
  [`${P}.embeddings.patch_embedding.weight`, 'visual.patch_embedding.weight'],
  [`${P}.embeddings.position_embedding.weight`, 'visual.pos_embedding'],
  [`${P}.pre_layrnorm.`, 'visual.pre_norm.'],
  [`${P}.encoder.layers.N.layer_norm1.`, 'visual.transformer.N.norm1.'],
  [`${P}.encoder.layers.N.self_attn.q_proj.`, 'visual.transformer.N.attn.to_qkv.#0'],
  [`${P}.encoder.layers.N.self_attn.k_proj.`, 'visual.transformer.N.attn.to_qkv.#1'],
  [`${P}.encoder.layers.N.self_attn.v_proj.`, 'visual.transformer.N.attn.to_qkv.#2'],
  [`${P}.encoder.layers.N.self_attn.out_proj.`, 'visual.transformer.N.attn.proj.'],
  [`${P}.encoder.layers.N.layer_norm2.`, 'visual.transformer.N.norm2.'],
  [`${P}.encoder.layers.N.mlp.fc1.`, 'visual.transformer.N.mlp.0.'],
  [`${P}.encoder.layers.N.mlp.fc2.`, 'visual.transformer.N.mlp.2.'],
];

export type ClipLayout = 'huggingface' | 'original';

/** Which naming a CLIP checkpoint uses (undefined: neither). */
export function detectClipLayout(names: Iterable<string>): ClipLayout | undefined {
  for (const n of names) {
    if (n === CLIP_NAMES.patchEmbedding) return 'huggingface';
    if (n === 'visual.patch_embedding.weight') return 'original';
  }
  return undefined;
}

const RULES = CLIP_ORIGINAL_TABLE.map(([hf, orig]) => ({
  re: new RegExp('^' + hf.replaceAll('.', '\\.').replace('N', '(\\d+)') + (hf.endsWith('.') ? '(.+)' : '') + '$'),
  to: orig,
}));

/**
 * The original location of a Hugging Face name: the key, and for q/k/v the block of the fused
 * tensor; undefined when the table has no row.
 */
export function clipOriginalName(hfName: string): { key: string; block?: { index: number; count: number } } | undefined {
  for (const { re, to } of RULES) {
    const m = re.exec(hfName);
    if (!m) continue;
    const [layer, tail] = to.includes('N') ? [m[1], m[2]] : [undefined, m[1]];
    const base = layer === undefined ? to : to.replace('N', layer);
    const fused = /#(\d)$/.exec(base);
    if (fused) return { key: base.slice(0, -2) + (tail ?? ''), block: { index: Number(fused[1]), count: 3 } };
    return { key: base + (tail ?? '') };
  }
  return undefined;
}
