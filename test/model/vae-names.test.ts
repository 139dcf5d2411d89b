// Checkpoint names: the original Wan2.1 keys of diffusers VAE parameters, checked against
// pairs that diffusers' conversion script (scripts/convert_wan_to_diffusers.py) maps.
import { describe, expect, it } from 'vitest';
import { WAN21_VAE } from '../../src/model/vae/config.ts';
import { detectLayout, originalName } from '../../src/model/vae/names.ts';

const PAIRS: [string, string][] = [
  ['encoder.conv_in.weight', 'encoder.conv1.weight'],
  ['decoder.conv_in.bias', 'decoder.conv1.bias'],
  ['quant_conv.weight', 'conv1.weight'],
  ['post_quant_conv.bias', 'conv2.bias'],
  ['encoder.down_blocks.0.norm1.gamma', 'encoder.downsamples.0.residual.0.gamma'],
  ['encoder.down_blocks.3.conv1.weight', 'encoder.downsamples.3.residual.2.weight'],
  ['encoder.down_blocks.3.norm2.gamma', 'encoder.downsamples.3.residual.3.gamma'],
  ['encoder.down_blocks.3.conv2.bias', 'encoder.downsamples.3.residual.6.bias'],
  ['encoder.down_blocks.3.conv_shortcut.weight', 'encoder.downsamples.3.shortcut.weight'],
  ['encoder.down_blocks.5.resample.1.weight', 'encoder.downsamples.5.resample.1.weight'],
  ['encoder.down_blocks.5.time_conv.bias', 'encoder.downsamples.5.time_conv.bias'],
  ['encoder.mid_block.resnets.1.conv2.weight', 'encoder.middle.2.residual.6.weight'],
  ['decoder.mid_block.resnets.0.norm1.gamma', 'decoder.middle.0.residual.0.gamma'],
  ['encoder.mid_block.attentions.0.to_qkv.weight', 'encoder.middle.1.to_qkv.weight'],
  ['decoder.mid_block.attentions.0.norm.gamma', 'decoder.middle.1.norm.gamma'],
  ['encoder.norm_out.gamma', 'encoder.head.0.gamma'],
  ['decoder.conv_out.weight', 'decoder.head.2.weight'],
  ['decoder.up_blocks.0.resnets.2.conv1.weight', 'decoder.upsamples.2.residual.2.weight'],
  ['decoder.up_blocks.0.upsamplers.0.time_conv.weight', 'decoder.upsamples.3.time_conv.weight'],
  ['decoder.up_blocks.1.resnets.0.conv_shortcut.bias', 'decoder.upsamples.4.shortcut.bias'],
  ['decoder.up_blocks.1.upsamplers.0.resample.1.bias', 'decoder.upsamples.7.resample.1.bias'],
  ['decoder.up_blocks.2.resnets.1.norm2.gamma', 'decoder.upsamples.9.residual.3.gamma'],
  ['decoder.up_blocks.2.upsamplers.0.resample.1.weight', 'decoder.upsamples.11.resample.1.weight'],
  ['decoder.up_blocks.3.resnets.2.conv2.bias', 'decoder.upsamples.14.residual.6.bias'],
];

describe('VAE checkpoint names', () => {
  it.each(PAIRS)('%s <- %s', (diffusers, original) => {
    expect(originalName(diffusers, WAN21_VAE)).toBe(original);
  });

  it('detects the layout from the keys', () => {
    expect(detectLayout(['encoder.conv_in.weight', 'x'])).toBe('diffusers');
    expect(detectLayout(['decoder.conv1.weight'])).toBe('original');
    expect(detectLayout(['blocks.0.attn1.to_q.weight'])).toBeNull();
  });

  it('names nothing it does not know', () => {
    expect(() => originalName('encoder.somewhere.weight', WAN21_VAE)).toThrow(/no original-layout name/);
  });
});
