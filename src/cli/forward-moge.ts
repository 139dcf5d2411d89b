// `egox forward moge`: MoGe-2 on an image from a file; writes the network's outputs and the
// official infer's depth and intrinsics, for checking the port against a reference.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { SafetensorsFile } from '../io/safetensors.ts';
import { writeSafetensors } from '../io/safetensors-writer.ts';
import { MogeModel } from '../model/moge/index.ts';
import { UsageError, parseBytes, parseWeightDtype } from './parse.ts';
import { runCommand, type GpuOptions } from './run-command.ts';
import { networkLoadOptions, openCliDevice, withDeviceOptions, withNetworkOptions, type NetworkCliOptions } from './device-options.ts';
import { prepareDevice } from './tuning.ts';

const HELP = `
--model: a folder with model.safetensors (or weights.safetensors) and config.json (the
checkpoint's model_config), or the .safetensors file with config.json beside it.
--input file tensors (F32):
  image          [3, H, W] or [1, 3, H, W]  RGB in [0, 1]
Output tensors (F32), as MoGeModel.forward and infer return them:
  points         [H, W, 3]   remapped affine point map (with a points head)
  normal         [H, W, 3]   unit normals (with a normal head)
  mask           [H, W]      sigmoid of the mask head
  metric_scale   [1]         (with a scale head)
  depth          [H, W]      metric z-depth after the focal/shift fit, +inf outside the mask
  intrinsics     [3, 3]      normalised (cx = cy = 0.5)`;

interface Opts extends GpuOptions {
  model: string;
  config?: string;
  input: string;
  output: string;
  numTokens?: string;
  fovX?: string;
  weightDtype: string;
  gpuMemory?: string;
  verbose?: boolean;
}

async function readImage(path: string): Promise<{ data: Float32Array; height: number; width: number }> {
  if (!existsSync(path)) throw new UsageError(`--input ${path}: file not found`);
  const f = await SafetensorsFile.open(path);
  try {
    const info = f.tensors.get('image');
    if (!info) throw new UsageError(`${path}: needs a tensor 'image' [3, H, W] (see egox forward moge --help)`);
    if (info.dtype !== 'F32') throw new UsageError(`${path}: tensor 'image' is ${info.dtype}; write it as F32`);
    const shape = info.shape.length === 4 && info.shape[0] === 1 ? info.shape.slice(1) : info.shape;
    if (shape.length !== 3 || shape[0] !== 3) throw new UsageError(`${path}: tensor 'image' has shape [${info.shape}]; expected [3, H, W]`);
    const b = await f.read('image');
    return { data: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4), height: shape[1]!, width: shape[2]! };
  } finally {
    await f.close();
  }
}

export function registerMogeForward(forward: Command): void {
  const cmd = forward
    .command('moge')
    .description('MoGe-2 (points, normal, mask, metric scale, depth, intrinsics) on an image tensor')
    .requiredOption('--model <path>', 'MoGe-2 weights (.safetensors + config.json, or their folder)')
    .option('--config <json>', 'the model_config JSON (default: config.json beside the weights)')
    .requiredOption('--input <file>', 'the image tensor (.safetensors)')
    .requiredOption('--output <file>', 'where to write the outputs (.safetensors)')
    .option('--num-tokens <n>', 'ViT token budget (default: the most of the config range, resolution level 9)')
    .option('--fov-x <degrees>', 'known horizontal field of view: only the depth shift is fitted');
  withNetworkOptions(withDeviceOptions(cmd), 'f32')
    .addHelpText('after', HELP)
    .action((o: Opts) =>
      runCommand(Boolean(o.verbose), async (ctx) => {
        const load = networkLoadOptions(o);
        let tokens: number | undefined;
        if (o.numTokens !== undefined) {
          tokens = Number(o.numTokens);
          if (!Number.isInteger(tokens) || tokens < 1) throw new UsageError(`--num-tokens ${o.numTokens}: give a positive integer (1200..3600 is the trained range)`);
        }
        const fovX = o.fovX === undefined ? undefined : Number(o.fovX);
        if (fovX !== undefined && !(fovX > 0 && fovX < 180)) throw new UsageError(`--fov-x ${o.fovX}: give the horizontal field of view in degrees, between 0 and 180`);
        const image = await readImage(o.input);
        const dev = ctx.own(await openCliDevice(o));
        await prepareDevice(dev);
        const model = await MogeModel.open(dev, o.model, {
          configPath: o.config,
          ...load,
        });
        try {
          const { height: H, width: W } = image;
          const t0 = performance.now();
          const r = await model.infer(image.data, H, W, tokens ?? model.defaultTokens(), fovX);
          const ms = performance.now() - t0;
          const out: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
          if (r.points) out.points = { dtype: 'F32', shape: [H, W, 3], data: r.points };
          if (r.normal) out.normal = { dtype: 'F32', shape: [H, W, 3], data: r.normal };
          if (r.mask) out.mask = { dtype: 'F32', shape: [H, W], data: r.mask };
          if (r.metricScale !== undefined) out.metric_scale = { dtype: 'F32', shape: [1], data: Float32Array.of(r.metricScale) };
          out.depth = { dtype: 'F32', shape: [H, W], data: r.geometry.depth };
          out.intrinsics = { dtype: 'F32', shape: [3, 3], data: Float32Array.from(r.geometry.intrinsics) };
          await writeSafetensors(o.output, out, { producer: 'egox forward moge' });
          process.stderr.write(`MoGe-2: ${W}x${H}, grid ${r.grid.rows}x${r.grid.cols}, ${ms.toFixed(0)} ms -> ${o.output}\n`);
        } finally {
          await model.close();
        }
      }),
    );
}
