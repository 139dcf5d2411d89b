// Opening a VAE checkpoint: a diffusers model folder (with vae/), a vae folder (config.json +
// diffusion_pytorch_model.safetensors), the original release's Wan2.1_VAE.pth, or one
// .safetensors / .pth / .gguf file (ComfyUI's wan_2.1_vae.safetensors), in the diffusers or the original
// Wan2.1 key layout; the config comes from config.json, the file's metadata, or the shapes.

import { parseJsonBounded } from '../../io/json-bounded.ts';
import { readTextIfPresent, vaeFiles } from '../../io/model-layout.ts';
import { metadataString, openWeightFile, type NetworkWeightFile } from '../../io/weight-file.ts';
import { checkConfig, configFromJson, VaeConfigError, WAN21_VAE, type VaeConfig } from './config.ts';
import { detectLayout, type VaeLayout } from './names.ts';

export interface OpenedVae {
  source: NetworkWeightFile;
  config: VaeConfig;
  layout: VaeLayout;
  where: string;
}

export async function openVaeCheckpoint(path: string): Promise<OpenedVae> {
  const { target, configJson } = vaeFiles(path);
  const ckpt = await openWeightFile(target);
  const layout = detectLayout(ckpt.tensors.keys());
  if (!layout) {
    await ckpt.close();
    throw new VaeConfigError(`${target}: no VAE weights found (expected 'encoder.conv_in.weight' (diffusers) or 'encoder.conv1.weight' (original Wan2.1)); pass the model's vae folder or its safetensors file`);
  }
  try {
    const config = (await configOf(ckpt, configJson, target)) ?? inferConfig(ckpt.tensors, layout, target);
    checkAgainstWeights(config, ckpt.tensors, layout, target);
    return { source: ckpt, config, layout, where: target };
  } catch (e) {
    await ckpt.close();
    throw e;
  }
}

/** The config from config.json, else from the file's metadata; null when neither has one. */
async function configOf(ckpt: NetworkWeightFile, configJson: string | undefined, target: string): Promise<VaeConfig | null> {
  const text = configJson ? await readTextIfPresent(configJson) : null;
  if (configJson && text !== null) return configFromJson(parseConfig(text, `${configJson}:`), configJson);
  const meta = metadataString(ckpt, 'config');
  if (meta) return configFromJson(parseConfig(meta, `${target}: metadata 'config'`), `${target} metadata`);
  return null;
}

function parseConfig(text: string, where: string): unknown {
  try {
    return parseJsonBounded(text);
  } catch (e) {
    throw new VaeConfigError(`${where} not valid JSON (${(e as Error).message})`);
  }
}

/** The widths the config implies must be those of the weights, before any graph is built. */
function checkAgainstWeights(cfg: VaeConfig, tensors: ReadonlyMap<string, { shape: number[] }>, layout: VaeLayout, where: string): void {
  const conv = tensors.get(layout === 'diffusers' ? 'encoder.conv_in.weight' : 'encoder.conv1.weight');
  if (conv && conv.shape[0] !== cfg.baseDim) {
    throw new VaeConfigError(`${where}: base_dim ${cfg.baseDim} does not match the weights (encoder conv_in has ${conv.shape[0]} channels); fix config.json or use the config that came with the weights`);
  }
  const post = tensors.get(layout === 'diffusers' ? 'post_quant_conv.weight' : 'conv2.weight');
  if (post && post.shape[0] !== cfg.zDim) {
    throw new VaeConfigError(`${where}: z_dim ${cfg.zDim} does not match the weights (post_quant_conv has ${post.shape[0]} channels); fix config.json or use the config that came with the weights`);
  }
}

/** Without a config: Wan2.1's structure with the widths read from the tensor shapes. */
function inferConfig(tensors: ReadonlyMap<string, { shape: number[] }>, layout: VaeLayout, where: string): VaeConfig {
  const first = tensors.get(layout === 'diffusers' ? 'encoder.conv_in.weight' : 'encoder.conv1.weight') ??
    tensors.get(layout === 'diffusers' ? 'decoder.conv_in.weight' : 'decoder.conv1.weight');
  const post = tensors.get(layout === 'diffusers' ? 'post_quant_conv.weight' : 'conv2.weight');
  if (!first || !post) throw new VaeConfigError(`${where}: cannot infer the VAE widths (conv_in / post_quant_conv missing); add a config.json`);
  const encIn = tensors.get(layout === 'diffusers' ? 'encoder.conv_in.weight' : 'encoder.conv1.weight');
  const baseDim = encIn ? encIn.shape[0]! : first.shape[0]! / WAN21_VAE.dimMult[WAN21_VAE.dimMult.length - 1]!;
  const zDim = post.shape[0]!;
  if (zDim !== WAN21_VAE.zDim) throw new VaeConfigError(`${where}: z_dim ${zDim} has no published latent statistics; add a config.json with latents_mean and latents_std`);
  const cfg = { ...WAN21_VAE, baseDim, zDim };
  checkConfig(cfg, where);
  return cfg;
}
