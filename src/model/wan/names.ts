// The one visible name-mapping table between the diffusers checkpoint layout (what egox's
// graph uses) and the original Wan release layout. Rows: [diffusers, original]; `N` stands
// for a block index. Single-file community copies add a `model.diffusion_model.` prefix.
// Also the modules LoRA adapters may target (model/lora reads adapters through them).

import type { LoraModules } from '../lora/formats.ts';
import type { WanConfig } from './config.ts';

export const WAN_NAME_TABLE: readonly (readonly [string, string])[] = [
  ['patch_embedding', 'patch_embedding'],
  ['condition_embedder.time_embedder.linear_1', 'time_embedding.0'],
  ['condition_embedder.time_embedder.linear_2', 'time_embedding.2'],
  ['condition_embedder.time_proj', 'time_projection.1'],
  ['condition_embedder.text_embedder.linear_1', 'text_embedding.0'],
  ['condition_embedder.text_embedder.linear_2', 'text_embedding.2'],
  ['condition_embedder.image_embedder.norm1', 'img_emb.proj.0'],
  ['condition_embedder.image_embedder.ff.net.0.proj', 'img_emb.proj.1'],
  ['condition_embedder.image_embedder.ff.net.2', 'img_emb.proj.3'],
  ['condition_embedder.image_embedder.norm2', 'img_emb.proj.4'],
  ['blocks.N.scale_shift_table', 'blocks.N.modulation'],
  ['blocks.N.attn1.to_q', 'blocks.N.self_attn.q'],
  ['blocks.N.attn1.to_k', 'blocks.N.self_attn.k'],
  ['blocks.N.attn1.to_v', 'blocks.N.self_attn.v'],
  ['blocks.N.attn1.to_out.0', 'blocks.N.self_attn.o'],
  ['blocks.N.attn1.norm_q', 'blocks.N.self_attn.norm_q'],
  ['blocks.N.attn1.norm_k', 'blocks.N.self_attn.norm_k'],
  ['blocks.N.attn2.to_q', 'blocks.N.cross_attn.q'],
  ['blocks.N.attn2.to_k', 'blocks.N.cross_attn.k'],
  ['blocks.N.attn2.to_v', 'blocks.N.cross_attn.v'],
  ['blocks.N.attn2.to_out.0', 'blocks.N.cross_attn.o'],
  ['blocks.N.attn2.norm_q', 'blocks.N.cross_attn.norm_q'],
  ['blocks.N.attn2.norm_k', 'blocks.N.cross_attn.norm_k'],
  ['blocks.N.attn2.add_k_proj', 'blocks.N.cross_attn.k_img'],
  ['blocks.N.attn2.add_v_proj', 'blocks.N.cross_attn.v_img'],
  ['blocks.N.attn2.norm_added_k', 'blocks.N.cross_attn.norm_k_img'],
  ['blocks.N.norm2', 'blocks.N.norm3'],
  ['blocks.N.ffn.net.0.proj', 'blocks.N.ffn.0'],
  ['blocks.N.ffn.net.2', 'blocks.N.ffn.2'],
  ['scale_shift_table', 'head.modulation'],
  ['proj_out', 'head.head'],
];

export const ORIGINAL_PREFIX = 'model.diffusion_model.';

export type WanLayout = 'diffusers' | 'original';

function compile(pattern: string): RegExp {
  return new RegExp('^' + pattern.replaceAll('.', '\\.').replace('N', '(\\d+)') + '(\\..+)?$');
}

const toOriginal = WAN_NAME_TABLE.map(([d, o]) => ({ re: compile(d), to: o }));
const toDiffusers = WAN_NAME_TABLE.map(([d, o]) => ({ re: compile(o), to: d }));

function mapName(name: string, rules: typeof toOriginal): string | undefined {
  for (const { re, to } of rules) {
    const m = re.exec(name);
    if (m) {
      // Tables without N have no block group: group 1 is the suffix then.
      const hasBlock = to.includes('N');
      const block = hasBlock ? m[1] : undefined;
      const suffix = (hasBlock ? m[2] : m[1]) ?? '';
      return (block !== undefined ? to.replace('N', block) : to) + suffix;
    }
  }
  return undefined;
}

/** diffusers module/parameter name -> original name (undefined when unknown). */
export function diffusersToOriginal(name: string): string | undefined {
  return mapName(name, toOriginal);
}

/** original module/parameter name (no prefix) -> diffusers name. */
export function originalToDiffusers(name: string): string | undefined {
  return mapName(name, toDiffusers);
}

/** Detects a checkpoint's layout and key prefix from its tensor names. */
export function detectLayout(names: Iterable<string>): { layout: WanLayout; prefix: string } | undefined {
  for (const n of names) {
    if (n.startsWith('condition_embedder.')) return { layout: 'diffusers', prefix: '' };
    const stripped = n.startsWith(ORIGINAL_PREFIX) ? n.slice(ORIGINAL_PREFIX.length) : n;
    if (/^(time_embedding|text_embedding|time_projection)\./.test(stripped)) {
      return { layout: 'original', prefix: n.startsWith(ORIGINAL_PREFIX) ? ORIGINAL_PREFIX : '' };
    }
  }
  return undefined;
}

/** The function the weight store uses: graph (diffusers) name -> checkpoint key. */
export function checkpointKeyFor(layout: WanLayout, prefix: string): (diffusersName: string) => string {
  if (layout === 'diffusers') return (n) => prefix + n;
  return (n) => prefix + (diffusersToOriginal(n) ?? n);
}

/** The adaptable Linear modules of a Wan DiT by diffusers name, with the name table for kohya and original adapters. */
export function wanLoraModules(c: WanConfig): LoraModules {
  return { names: wanLinearModules(c), toOriginal: diffusersToOriginal, fromOriginal: originalToDiffusers };
}

/** The Linear modules of a Wan DiT that LoRA adapters target, by diffusers name. */
export function wanLinearModules(c: WanConfig): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < c.numLayers; i++) {
    for (const a of ['attn1', 'attn2']) for (const m of ['to_q', 'to_k', 'to_v', 'to_out.0']) out.add(`blocks.${i}.${a}.${m}`);
    if (c.imageDim) for (const m of ['add_k_proj', 'add_v_proj']) out.add(`blocks.${i}.attn2.${m}`);
    out.add(`blocks.${i}.ffn.net.0.proj`);
    out.add(`blocks.${i}.ffn.net.2`);
  }
  return out;
}
