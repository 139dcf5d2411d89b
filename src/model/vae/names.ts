// Checkpoint key names. The graphs use the diffusers names (vae/diffusion_pytorch_model.safetensors);
// a checkpoint in the original Wan2.1 layout (Wan2.1_VAE.pth converted to safetensors) is read
// through this one table, which maps each diffusers name to its original key.

import type { VaeConfig } from './config.ts';

export type VaeLayout = 'diffusers' | 'original';

/** Which layout a set of checkpoint keys uses (null: neither). */
export function detectLayout(keys: Iterable<string>): VaeLayout | null {
  const set = new Set(keys);
  if (set.has('encoder.conv_in.weight') || set.has('decoder.conv_in.weight')) return 'diffusers';
  if (set.has('encoder.conv1.weight') || set.has('decoder.conv1.weight')) return 'original';
  return null;
}

/** Parts of a residual block: diffusers name -> index in the original `residual` Sequential. */
const RESIDUAL: Record<string, string> = {
  norm1: 'residual.0',
  conv1: 'residual.2',
  norm2: 'residual.3',
  conv2: 'residual.6',
  conv_shortcut: 'shortcut',
};

function residualPart(rest: string): string {
  const [part, ...tail] = rest.split('.');
  const mapped = RESIDUAL[part!];
  if (!mapped) throw new Error(`not a residual-block parameter: ${rest}`);
  return [mapped, ...tail].join('.');
}

/** The original Wan2.1 key of a diffusers VAE parameter name. */
export function originalName(name: string, cfg: VaeConfig): string {
  const m = (re: RegExp) => name.match(re);
  let r: RegExpMatchArray | null;
  if ((r = m(/^(encoder|decoder)\.conv_in\.(.+)$/))) return `${r[1]}.conv1.${r[2]}`;
  if ((r = m(/^quant_conv\.(.+)$/))) return `conv1.${r[1]}`;
  if ((r = m(/^post_quant_conv\.(.+)$/))) return `conv2.${r[1]}`;
  if ((r = m(/^(encoder|decoder)\.norm_out\.(.+)$/))) return `${r[1]}.head.0.${r[2]}`;
  if ((r = m(/^(encoder|decoder)\.conv_out\.(.+)$/))) return `${r[1]}.head.2.${r[2]}`;
  if ((r = m(/^(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)$/))) return `${r[1]}.middle.${2 * Number(r[2])}.${residualPart(r[3]!)}`;
  if ((r = m(/^(encoder|decoder)\.mid_block\.attentions\.0\.(.+)$/))) return `${r[1]}.middle.1.${r[2]}`;
  if ((r = m(/^encoder\.down_blocks\.(\d+)\.(resample|time_conv)\.(.+)$/))) return `encoder.downsamples.${r[1]}.${r[2]}.${r[3]}`;
  if ((r = m(/^encoder\.down_blocks\.(\d+)\.(.+)$/))) return `encoder.downsamples.${r[1]}.${residualPart(r[2]!)}`;
  // The original decoder is one flat list: per block, its resnets then its upsampler.
  const stride = cfg.numResBlocks + 2;
  if ((r = m(/^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/))) {
    return `decoder.upsamples.${Number(r[1]) * stride + Number(r[2])}.${residualPart(r[3]!)}`;
  }
  if ((r = m(/^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)$/))) {
    return `decoder.upsamples.${Number(r[1]) * stride + cfg.numResBlocks + 1}.${r[2]}`;
  }
  throw new Error(`no original-layout name for VAE parameter '${name}'`);
}

/** Graph weight name -> checkpoint key for a layout. */
export function renameFor(layout: VaeLayout, cfg: VaeConfig): (name: string) => string {
  return layout === 'diffusers' ? (n) => n : (n) => originalName(n, cfg);
}
