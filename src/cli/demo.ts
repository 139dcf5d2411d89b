// `egox demo`: the whole EgoX path on a built-in synthetic scene with tiny untrained weights.
import type { Command } from 'commander';
import { DEMO_DEFAULTS, runDemo } from '../demo/run.ts';
import { num } from './parse.ts';
import { installInterruptCleanup, printResult } from './generate.ts';
import { progressMode, progressReporter } from './progress-reporter.ts';
import { runCommand, type GpuOptions } from './run-command.ts';
import { prepareDevice } from './tuning.ts';
import { openCliDevice, withDeviceOptions } from './device-options.ts';

interface DemoCliOptions extends GpuOptions {
  out: string;
  weights: string;
  size: string;
  steps: string;
  frames: string;
  seed: string;
  json?: boolean;
  quiet?: boolean;
}

const REAL_MODEL = `For the real model: download Wan-AI/Wan2.1-I2V-14B-480P-Diffusers and the EgoX LoRA, then
  npx egox generate --meta ../shared/data/egoexo4d/meta.json --take cmu_soccer06_6_877_925 \\
    --model Wan2.1-I2V-14B-480P-Diffusers --lora pytorch_lora_weights.safetensors --out out/egox
(see README, "The real model").`;

export function registerDemoCommand(program: Command): void {
  withDeviceOptions(program.command('demo'))
    .description('run the whole EgoX path on a built-in synthetic scene with tiny untrained weights (no download)')
    .option('--out <dir>', 'output folder (the scene goes to <out>/scene)', DEMO_DEFAULTS.out)
    .option('--weights <dir>', 'where the generated demo weights are kept', DEMO_DEFAULTS.weightsDir)
    .option('--size <px>', 'ego side in pixels (448 = EgoX size, much slower on a CPU)', String(DEMO_DEFAULTS.size))
    .option('--steps <n>', 'denoising steps', String(DEMO_DEFAULTS.steps))
    .option('--frames <n>', 'clip length, 1 + 4k', '49')
    .option('--seed <n>', 'noise seed', String(DEMO_DEFAULTS.seed))
    .option('--json', 'machine-readable progress and result (JSON lines on stdout)')
    .option('--quiet', 'no progress output')
    .action((o: DemoCliOptions) =>
      runCommand(Boolean(o.verbose), async (ctx) => {
        installInterruptCleanup();
        const mode = progressMode(o);
        const say = (s: string) => mode !== 'json' && mode !== 'quiet' && process.stderr.write(s + '\n');
        say('egox demo: synthetic room scene, tiny UNTRAINED random weights: the generated (right) half is noise by design.');
        const dev = ctx.own(await openCliDevice(o));
        await prepareDevice(dev);
        const r = await runDemo(dev, {
          out: o.out,
          weightsDir: o.weights,
          size: num(o.size, '--size'),
          steps: num(o.steps, '--steps'),
          frames: num(o.frames, '--frames'),
          seed: num(o.seed, '--seed'),
          onProgress: progressReporter(mode),
        });
        printResult(r, Boolean(o.json), Boolean(o.quiet));
        say(`scene       ${r.metaPath}`);
        say(`weights     ${r.weights.modelDir} (${r.weights.reused ? 'reused' : 'generated'}, ${(r.weights.bytes / 2 ** 20).toFixed(1)} MiB, untrained)`);
        say(REAL_MODEL);
      }),
    );
}
