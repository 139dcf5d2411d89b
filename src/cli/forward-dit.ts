// `egox forward dit`: one DiT forward on tensors from a safetensors file, written to another
// file: the tool for checking the port against any reference implementation.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { formatProfile } from '../graph/profiler.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { writeSafetensors } from '../io/safetensors-writer.ts';
import { DIT_IO } from '../model/wan/dit.ts';
import { WanModel } from '../model/wan/model.ts';
import type { LoraMode } from '../model/lora/attach.ts';
import { timestepEmbedding } from '../model/wan/timestep.ts';
import { prepareDevice } from './tuning.ts';
import { collect, num, parseLoraArgs, parsePositiveInt, UsageError } from './parse.ts';
import { runCommand, type GpuOptions } from './run-command.ts';
import { networkLoadOptions, openCliDevice, withDeviceOptions, withNetworkOptions, type NetworkCliOptions } from './device-options.ts';

const HELP = `
Input tensors (F32 unless noted), by name:
  x                [C_in, F, H, W]   latent (C_in = 36 for I2V: latents | mask | condition)
  timestep         [1]               integer timestep (e.g. 999), embedded in float64
  context          [L_text, 4096]    text embeddings (umT5; zero rows past the prompt)
  clip             [257, 1280]       CLIP image features (I2V models)
  gga_query_dirs   [L, 3]            EgoX query directions (with --gga-lambda)
  gga_key_dirs     [F, L, 3]         EgoX key directions, one set per latent frame
Output: out [C_out, F, H, W].`;

interface Opts extends GpuOptions, NetworkCliOptions {
  model: string;
  input: string;
  output: string;
  lora: string[];
  loraStrength: string;
  loraLenient?: boolean;
  loraMode: string;
  config?: string;
  ggaLambda?: string;
  egoCols?: string;
  profile?: boolean;
  verbose?: boolean;
}

export function registerDitForward(forward: Command): void {
  withNetworkOptions(withDeviceOptions(forward.command('dit')), 'f32')
    .description('one Wan DiT forward on tensors from a safetensors file')
    .requiredOption('--model <path>', 'diffusers folder, transformer/ folder, the original Wan2.1 release folder, index.json or one .safetensors (diffusers or original names, with or without model.diffusion_model.)')
    .requiredOption('--input <file>', 'input tensors (.safetensors)')
    .requiredOption('--output <file>', 'where to write `out` (.safetensors)')
    .option('--lora <file[:strength]>', 'LoRA adapter (diffusers/PEFT, kohya or original keys), merged into the weights at load unless --lora-mode fused (always fused beside fp8/GGUF weights); repeat to stack adapters', collect, [])
    .option('--lora-strength <s>', 'strength of the adapters given without :strength', '1')
    .option('--lora-lenient', 'ignore adapter keys that match no module')
    .option('--lora-mode <mode>', 'how --lora is applied: merge (the default: W += s B A on the GPU at load, as EgoX does) | fused (a low-rank GEMM beside each adapted matmul at run time)', 'merge')
    .option('--config <name>', 'force a named config (wan2.1-i2v-14b, wan2.1-t2v-1.3b, tiny)')
    .option('--gga-lambda <l>', 'apply the EgoX geometry bias with this lambda (needs gga_* inputs)')
    .option('--ego-cols <n>', 'latent columns that are ego (default: the latent height, i.e. a square ego view)')
    .option('--profile', 'print GPU time per kernel family')
    .addHelpText('after', HELP)
    .action((o: Opts) =>
      runCommand(Boolean(o.verbose), async (ctx) => {
        if (!existsSync(o.input)) throw new UsageError(`--input ${o.input}: file not found`);
        const inputs = await SafetensorsFile.open(o.input);
        try {
          const get = async (name: string, required: boolean) => {
            const info = inputs.tensors.get(name);
            if (!info) {
              if (required) throw new UsageError(`${o.input}: tensor '${name}' missing (see egox forward dit --help)`);
              return undefined;
            }
            if (info.dtype !== 'F32') throw new UsageError(`${o.input}: tensor '${name}' is ${info.dtype}; write it as F32`);
            const b = await inputs.read(name);
            return { shape: info.shape, data: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4) };
          };
          const x = (await get('x', true))!;
          const t = (await get('timestep', true))!;
          const context = (await get('context', true))!;
          const clip = await get('clip', false);
          const qd = o.ggaLambda !== undefined ? await get('gga_query_dirs', true) : undefined;
          const kd = o.ggaLambda !== undefined ? await get('gga_key_dirs', true) : undefined;
          if (x.shape.length !== 4) throw new UsageError(`${o.input}: x has shape [${x.shape}], expected [C, F, H, W]`);
          if (o.loraMode !== 'merge' && o.loraMode !== 'fused') throw new UsageError(`--lora-mode '${o.loraMode}': use merge or fused`);
          const lora = parseLoraArgs(o.lora, num(o.loraStrength, '--lora-strength')).map((a) => ({ ...a, lenient: o.loraLenient, mode: o.loraMode as LoraMode }));
          const model = await WanModel.open(o.model, { config: o.config, lora });
          try {
            const c = { ...model.config, textLen: context.shape[0]!, imageLen: clip?.shape[0] ?? model.config.imageLen };
            if (x.shape[0] !== c.inDim) throw new UsageError(`${o.input}: x has ${x.shape[0]} channels, the model takes ${c.inDim}`);
            if (context.shape[1] !== c.textDim) throw new UsageError(`${o.input}: context is [${context.shape}], the model needs [L, ${c.textDim}]`);
            if (c.imageDim && !clip) throw new UsageError(`${o.input}: the model is image-to-video; tensor 'clip' [257, ${c.imageDim}] is missing`);
            const gga = o.ggaLambda !== undefined ? { lambda: num(o.ggaLambda, '--gga-lambda'), egoLatentCols: o.egoCols ? parsePositiveInt(o.egoCols, '--ego-cols') : x.shape[2]! } : null;
            const load = networkLoadOptions(o);
            const dev = ctx.own(await openCliDevice(o));
            await prepareDevice(dev);
            const { exec } = await model.load(dev, { latentShape: x.shape as [number, number, number, number], gga }, load, { profile: o.profile }, c);
            const feed: Record<string, Float32Array> = {
              [DIT_IO.latents]: x.data,
              [DIT_IO.timestepEmbedding]: timestepEmbedding(t.data[0]!, c.freqDim),
              [DIT_IO.context]: context.data,
            };
            if (clip) feed[DIT_IO.clip] = clip.data;
            if (qd && kd) Object.assign(feed, { [DIT_IO.ggaQueryDirs]: qd.data, [DIT_IO.ggaKeyDirs]: kd.data });
            const t0 = performance.now();
            await exec.run(feed);
            const ms = performance.now() - t0;
            const out = await exec.read(DIT_IO.output);
            await writeSafetensors(o.output, { out: { dtype: 'F32', shape: [...exec.output(DIT_IO.output).shape], data: out } }, { producer: 'egox forward dit' });
            process.stderr.write(`forward ${ms.toFixed(0)} ms, peak GPU ${(exec.plan.totals.peakBytes / 2 ** 20).toFixed(1)} MiB -> ${o.output}\n`);
            if (o.profile) process.stdout.write(formatProfile(exec.profile()) + '\n');
            exec.destroy();
          } finally {
            await model.close();
          }
        } finally {
          await inputs.close();
        }
      }),
    );
}
