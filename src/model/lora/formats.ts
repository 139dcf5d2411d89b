// LoRA adapter files in the three formats egox reads (wan21-architecture.md section 5),
// normalised to diffusers module names: diffusers/PEFT (lora_A/lora_B), kohya/musubi
// (lora_unet_..., lora_down/lora_up, alpha) and original-key style (diffusion_model....,
// with optional alpha, diff and diff_b). The model says which modules are adaptable and how
// its original release names them (LoraModules), so this file knows no model.

import { InputError } from '../../runtime/errors.ts';

/** What a model offers to adapters: its Linear modules and their original-release names. */
export interface LoraModules {
  /** Adaptable Linear modules by diffusers name, e.g. 'blocks.0.attn1.to_q'. */
  names: ReadonlySet<string>;
  /** diffusers name -> original name (kohya stems are built from it); undefined when unknown. */
  toOriginal(module: string): string | undefined;
  /** original name (no prefix) -> diffusers name. */
  fromOriginal(name: string): string | undefined;
}

export interface LoraTarget {
  /** diffusers module name, e.g. 'blocks.0.attn1.to_q'. */
  module: string;
  down?: string; // A [r, in]
  up?: string; // B [out, r]
  alphaKey?: string;
  /** Full-weight and bias deltas added directly (original-key style). */
  diff?: string;
  diffBias?: string;
}

export interface ParsedLora {
  format: 'diffusers' | 'kohya' | 'original';
  targets: Map<string, LoraTarget>;
  /** Keys that name no module of the model (or are of an unknown kind). */
  unmatched: string[];
}

export class LoraError extends InputError {}

type Part = 'down' | 'up' | 'alphaKey' | 'diff' | 'diffBias';

const SUFFIXES: readonly [string, Part][] = [
  ['.lora_A.weight', 'down'],
  ['.lora_B.weight', 'up'],
  ['.lora_down.weight', 'down'],
  ['.lora_up.weight', 'up'],
  ['.alpha', 'alphaKey'],
  ['.diff_b', 'diffBias'],
  ['.diff', 'diff'],
];

/** Parses adapter keys; keys for anything but the model's adaptable modules are reported as unmatched. */
export function parseLora(keys: Iterable<string>, model: LoraModules, file = 'LoRA adapter'): ParsedLora {
  const modules = model.names;
  const all = [...keys];
  const format = all.some((k) => k.startsWith('lora_unet_')) ? 'kohya' : all.some((k) => /(^|\.)(self_attn|cross_attn|diffusion_model)\./.test(k)) ? 'original' : 'diffusers';
  const kohyaIndex = format === 'kohya' ? kohyaNames(model) : undefined;
  const targets = new Map<string, LoraTarget>();
  const unmatched: string[] = [];
  for (const key of all) {
    const suffix = SUFFIXES.find(([s]) => key.endsWith(s));
    if (!suffix) {
      unmatched.push(key);
      continue;
    }
    const stem = key.slice(0, -suffix[0].length);
    let module: string | undefined;
    if (format === 'kohya') module = kohyaIndex!.get(stem);
    else if (format === 'original') module = model.fromOriginal(stem.replace(/^(model\.)?diffusion_model\./, ''));
    else module = stem.replace(/^(transformer|diffusion_model|base_model\.model)\./, '');
    if (!module || !modules.has(module)) {
      unmatched.push(key);
      continue;
    }
    const t = targets.get(module) ?? { module };
    t[suffix[1]] = key;
    targets.set(module, t);
  }
  for (const t of targets.values()) {
    if ((t.down && !t.up) || (t.up && !t.down)) {
      throw new LoraError(`${file}: LoRA for '${t.module}' has ${t.down ? 'lora_A/down' : 'lora_B/up'} but not its pair: the adapter file is incomplete; export it again`);
    }
  }
  return { format, targets, unmatched };
}

/** kohya stems ('lora_unet_blocks_0_self_attn_q') for each module, via original names. */
function kohyaNames(model: LoraModules): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of model.names) {
    const orig = model.toOriginal(m);
    if (orig) out.set('lora_unet_' + orig.replaceAll('.', '_'), m);
    out.set('lora_unet_' + m.replaceAll('.', '_'), m); // some tools keep diffusers names
  }
  return out;
}
