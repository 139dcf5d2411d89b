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
