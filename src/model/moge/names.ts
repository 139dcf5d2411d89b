// The one visible table of MoGe-2 checkpoint names (model.pt's state dict, as the official
// MoGeModel names its parameters; the safetensors copy uses the same keys). The graph uses
// these keys unchanged.

const VIT = 'encoder.backbone';

export const MOGE_NAMES = {
  patchEmbed: `${VIT}.patch_embed.proj`,
  clsToken: `${VIT}.cls_token`,
  posEmbed: `${VIT}.pos_embed`,
  registerTokens: `${VIT}.register_tokens`,
  finalNorm: `${VIT}.norm`,
  block(i: number) {
    const p = `${VIT}.blocks.${i}`;
    return {
      norm1: `${p}.norm1`,
      qkv: `${p}.attn.qkv`,
      proj: `${p}.attn.proj`,
      ls1: `${p}.ls1.gamma`,
      norm2: `${p}.norm2`,
      fc1: `${p}.mlp.fc1`,
      fc2: `${p}.mlp.fc2`,
      ls2: `${p}.ls2.gamma`,
      /** SwiGLU FFN of ViT-g (not supported: its presence is an error). */
      swiglu: `${p}.mlp.w12`,
    };
  },
  outputProjection: (i: number) => `encoder.output_projections.${i}`,
  /** A ConvStack (neck, points_head, mask_head, normal_head). */
  stack(stack: string) {
    return {
      inputBlock: (i: number) => `${stack}.input_blocks.${i}`,
      outputBlock: (i: number) => `${stack}.output_blocks.${i}`,
      /** Residual block j of level i: norms at layers.0 / .3, 3x3 convs at layers.2 / .5. */
      resBlock: (i: number, j: number) => ({
        inNorm: `${stack}.res_blocks.${i}.${j}.layers.0`,
        conv1: `${stack}.res_blocks.${i}.${j}.layers.2`,
        hiddenNorm: `${stack}.res_blocks.${i}.${j}.layers.3`,
        conv2: `${stack}.res_blocks.${i}.${j}.layers.5`,
      }),
      /** Resampler i: Sequential members by index (which ones exist depends on its type). */
      resampler: (i: number, member: number) => `${stack}.resamplers.${i}.${member}`,
    };
  },
  /** Linear k of the scale MLP (Sequential: Linear, ReLU, Linear, ...). */
  scaleLinear: (k: number) => `scale_head.${2 * k}`,
} as const;

export const MOGE_HEADS = ['points_head', 'normal_head', 'mask_head'] as const;
export type MogeHead = (typeof MOGE_HEADS)[number];
