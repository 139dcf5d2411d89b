// `egox generate`: the EgoX run from the official inputs (meta.json, videos, depth maps) and a
// Hugging Face model folder to the first-person video, with progress and clean interrupts.
import type { Command } from 'commander';
import { generate, type GenerateResult } from '../pipeline/generate.ts';
import { GENERATE_DEFAULTS, resolveGenerateOptions, type GenerateOptions } from '../pipeline/generate-options.ts';
import { parseEgoCalibration } from '../recon/cameras.ts';
import { abortAllStages } from '../pipeline/staging.ts';
import { num } from './parse.ts';
import { formatDuration, progressMode, progressReporter } from './progress-reporter.ts';
import { runCommand, type GpuOptions } from './run-command.ts';
import { prepareDevice } from './tuning.ts';
import { networkLoadOptions, openCliDevice, withDeviceOptions, withNetworkOptions, type NetworkCliOptions } from './device-options.ts';

interface GenerateCliOptions extends GpuOptions, NetworkCliOptions {
  meta: string;
  take?: string;
  depth?: string;
  model: string;
  lora?: string;
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
  withNetworkOptions(withDeviceOptions(program.command('generate')), d.weightDtype)
    .description('generate the first-person video of a take (EgoX): exo video + ego prior + cameras -> <out>/<take>.mp4')
    .requiredOption('--meta <file>', 'EgoX meta.json ({"test_datasets": [...]}); depth maps in depth_maps/<take>/ beside it')
    .option('--take <name>', 'take to run (the folder holding exo_path); needed when the meta has several')
    .option('--depth <dir>', 'depth folder of the take (default <meta dir>/depth_maps/<take>)')
    .requiredOption('--model <dir>', 'Wan2.1-I2V-14B-480P-Diffusers folder (transformer/, vae/, text_encoder/, tokenizer/, image_encoder/, ...)')
    .option('--lora <file>', "EgoX adapter (pytorch_lora_weights.safetensors), merged on the GPU at load")
    .option('--lora-strength <s>', 'LoRA strength', '1')
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
          lora: o.lora,
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
        const dev = ctx.own(await openCliDevice(o));
        await prepareDevice(dev);
        const r = await generate(dev, opts);
        printResult(r, Boolean(o.json), Boolean(o.quiet));
      }),
    );
}
