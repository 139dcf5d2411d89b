// `egox forward clip-vision`: CLIP vision on a PNG (preprocessed on the GPU as the Hugging Face
// image processor does) or on tensors from a file; writes hidden_states[-2].
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readPng } from '../io/png.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { writeSafetensors } from '../io/safetensors-writer.ts';
import { ClipVisionEncoder, rgb8ToPlanar } from '../model/clip/index.ts';
import { UsageError } from './parse.ts';
import { runCommand, type GpuOptions } from './run-command.ts';
import { networkLoadOptions, openCliDevice, withDeviceOptions, withNetworkOptions, type NetworkCliOptions } from './device-options.ts';
import { prepareDevice } from './tuning.ts';

const HELP = `
--input file tensors (F32), one of:
  pixel_values   [3, S, S] or [1, 3, S, S]  already preprocessed (as CLIPImageProcessor returns)
  image          [3, H, W]                   RGB in [0, 1], resized in float (no 8-bit rounding)
--image takes an 8-bit PNG (gray, RGB; alpha dropped), preprocessed bit-exactly like PIL.
Output tensors (F32):
  image_embeds   [tokens, hidden]  hidden_states[-2] (257 x 1280 for ViT-H/14)
  pixel_values   [3, S, S]         the preprocessed image (not with --input pixel_values)`;

interface Opts extends GpuOptions, NetworkCliOptions {
  model: string;
  image?: string;
  input?: string;
  output: string;
  verbose?: boolean;
}

function pngToRgb8(path: string): { width: number; height: number; rgb: Uint8Array } {
  if (!existsSync(path)) throw new UsageError(`--image ${path}: file not found`);
  const png = readPng(path);
  if (png.bitDepth !== 8 || !(png.data instanceof Uint8Array)) throw new UsageError(`--image ${path}: ${png.bitDepth}-bit PNG; save it with 8 bits per channel`);
  const { width, height, channels, data } = png;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      if (png.palette) rgb[3 * i + c] = png.palette[3 * data[i]! + c]!;
      else rgb[3 * i + c] = channels >= 3 ? data[i * channels + c]! : data[i * channels]!;
    }
  }
  return { width, height, rgb };
}

export function registerClipForward(forward: Command): void {
  withNetworkOptions(withDeviceOptions(forward.command('clip-vision')), 'f32')
    .description('CLIP vision (hidden_states[-2]) on a PNG or on tensors from a file')
    .requiredOption('--model <path>', 'diffusers folder (image_encoder/ + image_processor/), the original Wan2.1 release folder (models_clip_*.pth), the image_encoder folder, or one .safetensors/.pth/.gguf file')
    .option('--image <png>', 'an RGB image')
    .option('--input <file>', 'pixel_values or image tensors (.safetensors)')
    .requiredOption('--output <file>', 'where to write image_embeds (.safetensors)')
    .addHelpText('after', HELP)
    .action((o: Opts) =>
      runCommand(Boolean(o.verbose), async (ctx) => {
        if ((o.image === undefined) === (o.input === undefined)) throw new UsageError('give exactly one of --image PNG and --input FILE');
        const load = networkLoadOptions(o);
        const png = o.image !== undefined ? pngToRgb8(o.image) : undefined;
        let tensor: { name: string; shape: number[]; data: Float32Array } | undefined;
        if (o.input !== undefined) {
          if (!existsSync(o.input)) throw new UsageError(`--input ${o.input}: file not found`);
          const f = await SafetensorsFile.open(o.input);
          try {
            const name = ['pixel_values', 'image'].find((n) => f.tensors.has(n));
            if (!name) throw new UsageError(`${o.input}: needs a tensor 'pixel_values' or 'image' (see egox forward clip-vision --help)`);
            const info = f.tensors.get(name)!;
            if (info.dtype !== 'F32') throw new UsageError(`${o.input}: tensor '${name}' is ${info.dtype}; write it as F32`);
            const shape = info.shape[0] === 1 && info.shape.length === 4 ? info.shape.slice(1) : info.shape;
            if (shape.length !== 3 || shape[0] !== 3) throw new UsageError(`${o.input}: tensor '${name}' has shape [${info.shape}]; expected [3, H, W]`);
            const b = await f.read(name);
            tensor = { name, shape, data: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4) };
          } finally {
            await f.close();
          }
        }
        const dev = ctx.own(await openCliDevice(o));
        await prepareDevice(dev);
        const enc = await ClipVisionEncoder.open(dev, o.model, load);
        try {
          const S = enc.config.imageSize;
          const t0 = performance.now();
          let embeds: Float32Array;
          let pixels: Float32Array | undefined;
          if (tensor?.name === 'pixel_values') {
            if (tensor.shape[1] !== S || tensor.shape[2] !== S) throw new UsageError(`${o.input}: pixel_values is [${tensor.shape}]; the encoder takes [3, ${S}, ${S}]`);
            embeds = await enc.encodePixels(tensor.data);
          } else {
            const planar = tensor ? tensor.data : undefined;
            const r = planar
              ? await enc.encodePlanar(planar, tensor!.shape[2]!, tensor!.shape[1]!, false)
              : await enc.encodePlanar(rgb8ToPlanar(png!.rgb, png!.width, png!.height), png!.width, png!.height, true);
            embeds = r.imageEmbeds;
            pixels = r.pixelValues;
          }
          const ms = performance.now() - t0;
          const out: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {
            image_embeds: { dtype: 'F32', shape: [enc.tokens, enc.config.hiddenSize], data: embeds },
          };
          if (pixels) out.pixel_values = { dtype: 'F32', shape: [3, S, S], data: pixels };
          await writeSafetensors(o.output, out, { producer: 'egox forward clip-vision' });
          process.stderr.write(`CLIP vision: ${ms.toFixed(0)} ms -> ${o.output}\n`);
        } finally {
          await enc.close();
        }
      }),
    );
}

