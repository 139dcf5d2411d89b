// `egox generate`: the EgoX run from the official inputs (meta.json, videos, depth maps) and a
// Hugging Face model folder to the first-person video, with progress and clean interrupts.
import type { Command } from 'commander';
import { generate, type GenerateResult } from '../pipeline/generate.ts';
import { generateBatch } from '../pipeline/generate-batch.ts';
import { GENERATE_DEFAULTS, resolveGenerateOptions, type GenerateOptions } from '../pipeline/generate-options.ts';
import { parseEgoCalibration } from '../recon/cameras.ts';
import { abortAllStages } from '../pipeline/staging.ts';
import { collect, num, parseLoraArgs } from './parse.ts';
import { formatDuration, progressMode, progressReporter } from './progress-reporter.ts';
import { runCommand, type GpuOptions } from './run-command.ts';
import { prepareDevice } from './tuning.ts';
import { batchOptionGiven, batchReporter, batchSelection, finishBatch, withBatchOptions, type BatchCliOptions } from './generate-batch.ts';
import { UsageError } from './parse.ts';
import { cliMessage } from './error-wording.ts';
import { networkLoadOptions, openCliDevice, withDeviceOptions, withNetworkOptions, type NetworkCliOptions } from './device-options.ts';

interface GenerateCliOptions extends GpuOptions, NetworkCliOptions, BatchCliOptions {
  meta: string;
  take?: string;
  depth?: string;
  model?: string;
  transformer?: string;
  vae?: string;
  textEncoder?: string;
  imageEncoder?: string;
  lora: string[];
  loraStrength: string;
  loraLenient?: boolean;
  out: string;
  steps: string;
  guidance: string;
  seed: string;
  ggaLambda: string;
  gga: boolean;
  frames: string;
  size: string;
  prompt?: string;
  negativePrompt?: string;
  promptEmbeds?: string;
  imageEmbeds?: string;
  renderPrior?: boolean;
  egoCalibration?: string;
  png?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** Removes staged outputs and exits 130 on Ctrl-C (143 on SIGTERM, as a shell reports it): no half-written video stays behind. */
export function installInterruptCleanup(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      abortAllStages();
      process.stderr.write(`\negox: interrupted (${sig}); nothing was written to the output folder\n`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

export function printResult(r: GenerateResult, json: boolean, quiet: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify({ event: 'result', ...r }) + '\n');
    return;
  }
  if (quiet) return;
  const lines = [
    `take        ${r.take}`,
    `latent      [${r.latentShape.join(', ')}] (${r.tokens} tokens)`,
    `time        ${formatDuration(r.totalMs)} (${Object.entries(r.stageMs).map(([k, v]) => `${k} ${formatDuration(v!)}`).join(', ')})`,
    `video       ${r.video}`,
    `ego video   ${r.egoVideo}`,
    `sheet       ${r.contactSheet}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

export function registerGenerateCommand(program: Command): void {
  const d = GENERATE_DEFAULTS;
  withBatchOptions(withNetworkOptions(withDeviceOptions(program.command('generate')), d.weightDtype))
    .description('generate the first-person video of a take (EgoX): exo video + ego prior + cameras -> <out>/<take>.mp4; without --take every take, one model load, summary.json')
    .requiredOption('--meta <file>', 'EgoX meta.json ({"test_datasets": [...]}); depth maps in depth_maps/<take>/ beside it')
    .option('--take <name>', 'run this one take (the folder holding exo_path); without it every take runs (see --takes, --shard)')
    .option('--depth <dir>', 'depth folder of the take (default <meta dir>/depth_maps/<take>)')
    .option('--model <dir>', 'Wan2.1-I2V-14B-480P-Diffusers folder (transformer/, vae/, text_encoder/, tokenizer/, image_encoder/, ...) or the original Wan2.1-I2V-14B-480P release folder')
    .option('--transformer <file>', 'the DiT as its own file (e.g. ComfyUI wan2.1_i2v_480p_14B_bf16.safetensors), over --model')
    .option('--vae <file>', 'the VAE as its own file (wan_2.1_vae.safetensors, Wan2.1_VAE.pth, a .gguf), over --model')
    .option('--text-encoder <file>', 'umT5 as its own file (umt5_xxl_fp16.safetensors, models_t5_*.pth, umt5-xxl-encoder-*.gguf), over --model')
    .option('--image-encoder <file>', 'CLIP vision as its own file (clip_vision_h.safetensors, models_clip_*.pth, a .gguf), over --model')
    .option('--lora <file[:strength]>', "EgoX adapter (pytorch_lora_weights.safetensors), merged on the GPU at load (beside fp8/GGUF weights); repeat to stack adapters, e.g. a step-distillation LoRA with --steps 4 --guidance 1", collect, [])
    .option('--lora-strength <s>', 'strength of the adapters given without :strength', '1')
    .option('--lora-lenient', 'ignore adapter keys that match no module')
    .requiredOption('--out <dir>', 'output folder (created if missing)')
    .option('--steps <n>', 'denoising steps', String(d.steps))
    .option('--guidance <g>', 'classifier-free guidance scale (1 = off)', String(d.guidance))
    .option('--seed <n>', 'noise seed', String(d.seed))
    .option('--gga-lambda <l>', 'geometry-guided attention strength', String(d.ggaLambda))
    .option('--no-gga', 'turn geometry-guided attention off')
    .option('--frames <n>', 'frames, 1 + 4k', String(d.frames))
    .option('--size <px>', 'ego side in pixels; exo is 7/4 as wide (448 = EgoX; 256/128/64 for quick runs)', String(d.size))
    .option('--prompt <text>', "text prompt instead of the take's prompt in meta.json")
    .option('--negative-prompt <text>', 'negative prompt for guidance (EgoX: empty)')
    .option('--prompt-embeds <file>', 'precomputed text embeddings: prompt_embeds and negative_prompt_embeds [512, 4096] (.safetensors)')
    .option('--image-embeds <file>', 'precomputed CLIP features: image_embeds [257, 1280] (.safetensors)')
    .option('--render-prior', "render the ego prior with egox's renderer instead of reading ego_prior_path")
    .option('--ego-calibration <f,cx,cy[,...]>', 'ego fisheye for --render-prior (see egox prior --help)')
    .option('--png', 'also write png/<take>_ego_NNNNN.png')
    .option('--json', 'machine-readable progress and result (JSON lines on stdout)')
    .option('--quiet', 'no progress output')
    .action((o: GenerateCliOptions) =>
      runCommand(Boolean(o.verbose), async (ctx) => {
        installInterruptCleanup();
        const opts: GenerateOptions = {
          meta: o.meta,
          take: o.take,
          depthDir: o.depth,
          model: o.model,
          files: { transformer: o.transformer, vae: o.vae, textEncoder: o.textEncoder, imageEncoder: o.imageEncoder },
          lora: o.lora.length ? parseLoraArgs(o.lora, num(o.loraStrength, '--lora-strength')) : undefined,
          loraStrength: num(o.loraStrength, '--lora-strength'),
          loraLenient: Boolean(o.loraLenient),
          out: o.out,
          steps: num(o.steps, '--steps'),
          guidance: num(o.guidance, '--guidance'),
          seed: num(o.seed, '--seed'),
          ggaLambda: o.gga === false ? null : num(o.ggaLambda, '--gga-lambda'),
          frames: num(o.frames, '--frames'),
          size: num(o.size, '--size'),
          prompt: o.prompt,
          negativePrompt: o.negativePrompt,
          promptEmbeds: o.promptEmbeds,
          imageEmbeds: o.imageEmbeds,
          renderPrior: Boolean(o.renderPrior),
          priorOptions: o.egoCalibration ? { egoCalibration: parseEgoCalibration(o.egoCalibration) } : undefined,
          ...networkLoadOptions(o),
          png: Boolean(o.png),
          onProgress: progressReporter(progressMode(o)),
        };
        resolveGenerateOptions(opts); // option ranges before the device opens
        if (o.take === undefined) {
          if (o.depth !== undefined) throw new UsageError(`--depth ${o.depth}: names one take's depth folder, so it needs --take; a batch reads depth_maps/<take>/ beside the meta file`);
          const { takes, shard, wave } = batchSelection(o);
          const dev = ctx.own(await openCliDevice(o));
          await prepareDevice(dev);
          const { onProgress: _single, ...common } = opts;
          const r = await generateBatch(dev, { ...common, takes, shard, wave, overwrite: Boolean(o.overwrite), failFast: Boolean(o.failFast), onEvent: batchReporter(progressMode(o)), describeError: cliMessage });
          finishBatch(r, Boolean(o.json), Boolean(o.quiet));
          return;
        }
        const batchOnly = batchOptionGiven(o);
        if (batchOnly) throw new UsageError(`${batchOnly} picks takes of a batch run; drop --take ${o.take} to run several takes`);
        const dev = ctx.own(await openCliDevice(o));
        await prepareDevice(dev);
        const r = await generate(dev, opts);
        printResult(r, Boolean(o.json), Boolean(o.quiet));
      }),
    );
}
