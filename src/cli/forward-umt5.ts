// `egox forward umt5`: the umT5 text encoder on a prompt (tokenized with the model's
// tokenizer.json) or on token ids from a file; writes the embeddings the DiT takes.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { SafetensorsFile } from '../io/safetensors.ts';
import { writeSafetensors } from '../io/safetensors-writer.ts';
import { Umt5Encoder } from '../model/umt5/index.ts';
import { encodePrompt } from '../model/text/tokenizer.ts';
import { UsageError, parsePositiveInt } from './parse.ts';
import { runCommand, type GpuOptions } from './run-command.ts';
import { networkLoadOptions, openCliDevice, withDeviceOptions, withNetworkOptions, type NetworkCliOptions } from './device-options.ts';
import { prepareDevice } from './tuning.ts';

const HELP = `
--ids file tensors:
  input_ids        I32 or I64 [L] or [1, L]   token ids, real tokens first (L = the sequence length)
  attention_mask   same shape, optional       1 real, 0 padding (default: all real)
Output tensors (F32 unless noted):
  prompt_embeds      [L, d_model]  rows past the real tokens zero (what the DiT takes)
  last_hidden_state  [L, d_model]  the encoder's output on every row
  input_ids          I32 [L], attention_mask I32 [L]`;

interface Opts extends GpuOptions, NetworkCliOptions {
  model: string;
  prompt?: string;
  ids?: string;
  output: string;
  maxLength: string;
  verbose?: boolean;
}

async function readIds(path: string): Promise<{ ids: Int32Array; count: number }> {
  if (!existsSync(path)) throw new UsageError(`--ids ${path}: file not found`);
  const f = await SafetensorsFile.open(path);
  try {
    const read = async (name: string): Promise<Int32Array | undefined> => {
      const info = f.tensors.get(name);
      if (!info) return undefined;
      const b = await f.read(name);
      if (info.dtype === 'I32') return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      if (info.dtype === 'I64') return Int32Array.from(new BigInt64Array(b.buffer, b.byteOffset, b.byteLength / 8), (v) => Number(v));
      throw new UsageError(`${path}: tensor '${name}' is ${info.dtype}; write it as I32 or I64`);
    };
    const ids = await read('input_ids');
    if (!ids) throw new UsageError(`${path}: tensor 'input_ids' missing (see egox forward umt5 --help)`);
    if (ids.length === 0) throw new UsageError(`${path}: tensor 'input_ids' is empty`);
    const mask = await read('attention_mask');
    if (!mask) return { ids, count: ids.length };
    if (mask.length !== ids.length) throw new UsageError(`${path}: attention_mask has ${mask.length} values, input_ids ${ids.length}`);
    const count = mask.reduce((a, b) => a + (b ? 1 : 0), 0);
    if (count === 0 || mask.some((v, i) => (v !== 0) !== i < count)) throw new UsageError(`${path}: attention_mask must be 1s then 0s (right padding) with at least one 1`);
    return { ids, count };
  } finally {
    await f.close();
  }
}

export function registerUmt5Forward(forward: Command): void {
  withNetworkOptions(withDeviceOptions(forward.command('umt5')), 'f32')
    .description('the umT5 text encoder on a prompt or on token ids')
    .requiredOption('--model <path>', 'diffusers folder (text_encoder/ + tokenizer/), the original Wan2.1 release folder (models_t5_*.pth + google/umt5-xxl/), the text_encoder folder, or one .safetensors/.pth/.gguf file')
    .option('--prompt <text>', 'prompt (cleaned and tokenized as the Wan pipelines do)')
    .option('--ids <file>', 'token ids (.safetensors)')
    .requiredOption('--output <file>', 'where to write the embeddings (.safetensors)')
    .option('--max-length <n>', 'sequence length for --prompt', '512')
    .addHelpText('after', HELP)
    .action((o: Opts) =>
      runCommand(Boolean(o.verbose), async (ctx) => {
        if ((o.prompt === undefined) === (o.ids === undefined)) throw new UsageError('give exactly one of --prompt TEXT and --ids FILE');
        const load = networkLoadOptions(o);
        const fromFile = o.ids !== undefined ? await readIds(o.ids) : undefined;
        const length = fromFile ? fromFile.ids.length : parsePositiveInt(o.maxLength, '--max-length');
        const dev = ctx.own(await openCliDevice(o));
        await prepareDevice(dev);
        const enc = await Umt5Encoder.open(dev, o.model, { ...load, length });
        try {
          const { ids, count } = fromFile ?? ((e) => ({ ids: e.ids, count: e.length }))(encodePrompt(enc.tokenizer(), o.prompt!, length));
          const t0 = performance.now();
          const full = await enc.encodeIds(ids, count, true);
          const ms = performance.now() - t0;
          const d = enc.config.dModel;
          const cut = full.slice();
          cut.fill(0, count * d);
          await writeSafetensors(
            o.output,
            {
              prompt_embeds: { dtype: 'F32', shape: [length, d], data: cut },
              last_hidden_state: { dtype: 'F32', shape: [length, d], data: full },
              input_ids: { dtype: 'I32', shape: [length], data: Int32Array.from(ids) },
              attention_mask: { dtype: 'I32', shape: [length], data: Int32Array.from({ length }, (_, i) => (i < count ? 1 : 0)) },
            },
            { producer: 'egox forward umt5' },
          );
          process.stderr.write(`umT5 ${count} tokens of ${length}: ${ms.toFixed(0)} ms, peak GPU ${(enc.peakBytes / 2 ** 20).toFixed(1)} MiB -> ${o.output}\n`);
        } finally {
          await enc.close();
        }
      }),
    );
}
