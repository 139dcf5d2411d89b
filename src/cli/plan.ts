// `egox plan`: peak GPU memory and FLOPs of a run, from the dry-run planner (no GPU needed).
import type { Command } from 'commander';
import { gib } from '../graph/plan.ts';
import { namedConfig } from '../model/wan/config.ts';
import { planDitRun } from '../model/wan/plan-run.ts';
import { planVae } from '../model/vae/plan.ts';
import { planUmt5 } from '../model/umt5/plan.ts';
import { planClipVision } from '../model/clip/plan.ts';
import { parsePositiveInt, parseSize } from './parse.ts';
import { networkLoadOptions, withNetworkOptions, type NetworkCliOptions } from './device-options.ts';
import { runCommand } from './run-command.ts';
import { InputError } from '../runtime/errors.ts';
import type { BlockQuantDType, Fp8DType } from '../runtime/dtype.ts';

interface PlanOptions extends NetworkCliOptions {
  model: string;
  ego: string;
  exo: string;
  frames: string;
  steps: string;
  gga: boolean;
  cfg: boolean;
  weights?: string;
  json?: boolean;
  verbose?: boolean;
}

/** --weights: how the files hold the DiT blocks' and the encoders' Linear weights (the rest stays --weight-dtype). */
const WEIGHT_FORMS: Record<string, Fp8DType | BlockQuantDType | undefined> = { bf16: undefined, fp8: 'f8e4m3', q8_0: 'q8_0', q6_k: 'q6_k', q5_k: 'q5_k', q4_k: 'q4_k', q5_0: 'q5_0', q5_1: 'q5_1', q4_0: 'q4_0', q4_1: 'q4_1' };

export function registerPlanCommand(program: Command): void {
  withNetworkOptions(program.command('plan'), 'bf16')
    .description('peak GPU memory and FLOPs of a DiT run, from the dry-run planner (no GPU needed)')
    .option('--model <name>', 'wan2.1-i2v-14b | wan2.1-t2v-1.3b | tiny', 'wan2.1-i2v-14b')
    .option('--ego <HxW>', 'ego frame size', '448x448')
    .option('--exo <HxW>', "exo frame size ('none' for plain Wan)", '448x784')
    .option('--frames <n>', 'video frames (1 + 4k)', '49')
    .option('--steps <n>', 'denoising steps', '50')
    .option('--no-gga', 'without the geometry-guided attention inputs')
    .option('--no-cfg', 'one forward per step instead of two')
    .option('--weights <form>', `the DiT blocks' and the encoders' Linear weights as the files hold them: ${Object.keys(WEIGHT_FORMS).join(' | ')} (fp8 and GGUF files)`, 'bf16')
    .option('--json', 'print one JSON object')
    .option('--verbose', 'print stacks on errors')
    .action((opts: PlanOptions) =>
      runCommand(Boolean(opts.verbose), async () => {
        const config = namedConfig(opts.model);
        const form = opts.weights ?? 'bf16';
        if (!Object.prototype.hasOwnProperty.call(WEIGHT_FORMS, form)) throw new InputError(`--weights ${form}: use one of ${Object.keys(WEIGHT_FORMS).join(', ')}`);
        const load = networkLoadOptions(opts);
        const r = planDitRun({
          config,
          ego: parseSize(opts.ego, '--ego'),
          exo: opts.exo === 'none' ? null : parseSize(opts.exo, '--exo'),
          frames: parsePositiveInt(opts.frames, '--frames'),
          steps: parsePositiveInt(opts.steps, '--steps'),
          cfg: opts.cfg,
          gga: opts.gga,
          weightDtype: load.weightDtype!,
          gpuMemoryBytes: load.gpuMemoryBytes,
          quantized: WEIGHT_FORMS[form],
        });
        const t = r.plan.totals;
        const frames = parsePositiveInt(opts.frames, '--frames');
        const vaeWeights = opts.weightDtype === 'f32' ? 'f32' : 'bf16';
        const vae = [
          ['ego', parseSize(opts.ego, '--ego')],
          ...(opts.exo === 'none' ? [] : [['exo', parseSize(opts.exo, '--exo')]]),
        ].map(([name, s]) => {
          const size = s as { height: number; width: number };
          const p = planVae({ width: size.width, height: size.height, frames, dtypes: { weights: vaeWeights as 'bf16' } });
          return { name: name as string, encodePeakBytes: p.encode.peakBytes, decodePeakBytes: p.decode.peakBytes, encodeFlops: p.encode.flops, decodeFlops: p.decode.flops };
        });
        const encOpts = { ...load, weightDtype: vaeWeights as 'bf16', quantized: WEIGHT_FORMS[form] };
        const ego = parseSize(opts.ego, '--ego');
        const clipFrame = { height: ego.height, width: ego.width + (opts.exo === 'none' ? 0 : parseSize(opts.exo, '--exo').width) }; // CLIP sees the decoded [exo | ego] frame
        const encoders = { umt5: planUmt5(encOpts), clipVision: planClipVision(clipFrame, encOpts) };
        const summary = {
          model: config.name,
          weights: form,
          latentShape: r.latentShape,
          tokens: r.tokens,
          streaming: r.plan.streaming,
          peakBytes: t.peakBytes,
          weightBytes: t.weightBytes,
          residentWeightBytes: t.residentWeightBytes,
          activationBytes: t.activationBytes,
          naiveActivationBytes: t.naiveActivationBytes,
          ioBytes: t.ioBytes,
          flopsPerForward: r.flopsPerForward,
          forwardsPerRun: r.forwardsPerRun,
          flopsPerRun: r.flopsPerRun,
          dispatchesPerForward: t.dispatches,
          perFamily: Object.fromEntries([...r.plan.perFamily].map(([k, v]) => [k, v])),
          vae,
          encoders,
        };
        if (opts.json) {
          process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
          return;
        }
        const lines = [
          `model ${config.name}: latent [${r.latentShape.join(', ')}], ${r.tokens} tokens, weights ${form === 'bf16' ? opts.weightDtype : `${form} (block Linears; the rest ${opts.weightDtype})`}`,
          `peak GPU memory     ${gib(t.peakBytes)}${r.plan.streaming ? ' (weights streamed block by block)' : ' (everything resident)'}`,
          `  weights on GPU    ${gib(t.residentWeightBytes)} of ${gib(t.weightBytes)}`,
          `  activations       ${gib(t.activationBytes)} (without reuse ${gib(t.naiveActivationBytes)})`,
          `  inputs/outputs    ${gib(t.ioBytes)}`,
          `FLOPs per forward   ${(r.flopsPerForward / 1e12).toFixed(1)} TFLOP; per run (${r.forwardsPerRun} forwards) ${(r.flopsPerRun / 1e15).toFixed(1)} PFLOP`,
          ...vae.map((v) => `VAE ${v.name.padEnd(3)} ${frames} frames: encode peak ${gib(v.encodePeakBytes)}, decode peak ${gib(v.decodePeakBytes)} (chunked, flat in length)`),
          `umT5-XXL 512 tokens: peak ${gib(encoders.umt5.peakBytes)} (weights ${gib(encoders.umt5.weightBytes)})${encoders.umt5.streaming ? ' (streamed)' : ''}; CLIP ViT-H/14 on ${clipFrame.width}x${clipFrame.height}: peak ${gib(encoders.clipVision.peakBytes)} (weights ${gib(encoders.clipVision.weightBytes)})`,
          'DiT FLOPs by kernel family:',
          ...[...r.plan.perFamily].sort((a, b) => b[1].flops - a[1].flops).map(([k, v]) => `  ${k.padEnd(12)} ${String(v.nodes).padStart(5)} nodes ${(v.flops / 1e12).toFixed(2).padStart(9)} TFLOP`),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );
}
