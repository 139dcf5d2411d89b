// `egox forward vae-encode | vae-decode`: runs the Wan VAE on tensors from a safetensors file
// and writes the result; the tool for checking the port against any reference.

import type { Command } from 'commander';
import { SafetensorsFile } from '../io/safetensors.ts';
import { writeSafetensors } from '../io/safetensors-writer.ts';
import { halfCodesToF32 } from '../runtime/dtype.ts';
import { openNodeDevice } from '../runtime/node.ts';
import { prepareDevice } from './tuning.ts';
import { WanVae, VaeInputError, type HostTensor, type TileOptions } from '../model/vae/vae.ts';
import { DEFAULT_TILE } from '../model/vae/tiling.ts';
import { runCommand, type GpuOptions } from './run-command.ts';
import { networkLoadOptions, openCliDevice, withDeviceOptions, withNetworkOptions, type NetworkCliOptions } from './device-options.ts';

interface VaeForwardOptions extends GpuOptions, NetworkCliOptions {
  model: string;
  input: string;
  output: string;
  vaeTile?: string | boolean;
  timings?: boolean;
}

const ENCODE_HELP = `
Input tensor (any of F32, F16, BF16):
  frames   [3, F, H, W]  RGB in [-1, 1], F = 1 + 4k, H and W multiples of 8
Output tensor (F32):
  latents  [16, 1 + k, H/8, W/8]  normalised with the VAE's latents_mean / latents_std`;

const DECODE_HELP = `
Input tensor (any of F32, F16, BF16):
  latents  [16, T, h, w]  normalised latents (as vae-encode writes them)
Output tensor (F32):
  frames   [3, 1 + 4(T-1), 8h, 8w]  RGB clamped to [-1, 1]`;

/** Reads one float tensor of a safetensors file as f32. */
async function readTensor(path: string, name: string, rank: number): Promise<HostTensor> {
  const file = await SafetensorsFile.open(path);
  try {
    const info = file.tensors.get(name);
    if (!info) throw new VaeInputError(`${path}: no tensor '${name}' (has: ${[...file.tensors.keys()].join(', ') || 'none'})`);
    if (info.shape.length !== rank) throw new VaeInputError(`${path}: tensor '${name}' has shape [${info.shape.join(', ')}]; expected ${rank} dimensions`);
    const bytes = await file.read(name);
    let data: Float32Array;
    if (info.dtype === 'F32') data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    else if (info.dtype === 'F16' || info.dtype === 'BF16') {
      data = halfCodesToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2), info.dtype === 'F16' ? 'f16' : 'bf16');
    } else throw new VaeInputError(`${path}: tensor '${name}' is ${info.dtype}; use F32, F16 or BF16`);
    return { data, shape: info.shape as HostTensor['shape'] };
  } finally {
    await file.close();
  }
}

/**
 * `--vae-tile` alone: 256-pixel tiles with 64 overlap; `--vae-tile 384` or `384:96`: size and
 * overlap; `--no-vae-tile`: never; absent: 'auto' (only when the frames do not fit the adapter).
 */
export function parseTile(v: string | boolean | undefined): TileOptions | 'auto' | false {
  if (v === undefined) return 'auto';
  if (v === false) return false;
  if (v === true) return DEFAULT_TILE;
  const m = /^(\d+)(?::(\d+))?$/.exec(v);
  if (!m) throw new VaeInputError(`--vae-tile '${v}': use SIZE or SIZE:OVERLAP in pixels (e.g. 256:64)`);
  const size = Number(m[1]);
  return { size, overlap: m[2] !== undefined ? Number(m[2]) : Math.min(DEFAULT_TILE.overlap, size / 4) };
}


function addCommon(cmd: Command): Command {
  return withNetworkOptions(withDeviceOptions(cmd), 'f32')
    .requiredOption('--model <path>', 'diffusers folder, its vae/ folder, the original Wan2.1 release folder (Wan2.1_VAE.pth), or one .safetensors/.pth/.gguf file')
    .requiredOption('--input <file>', 'input .safetensors')
    .requiredOption('--output <file>', 'output .safetensors (written atomically)')
    .option('--vae-tile [size[:overlap]]', 'process frames in overlapping spatial tiles (pixels; default 256:64; without the flag: only when needed)')
    .option('--no-vae-tile', 'never tile (fail if the frames do not fit the adapter)')
    .option('--timings', 'print seconds per chunk to stderr');
}

async function run(opts: VaeForwardOptions, mode: 'encode' | 'decode', ctx: { own: (d: Awaited<ReturnType<typeof openNodeDevice>>) => unknown }): Promise<void> {
  const tile = parseTile(opts.vaeTile);
  const load = networkLoadOptions(opts);
  const input = await readTensor(opts.input, mode === 'encode' ? 'frames' : 'latents', 4);
  const dev = await openCliDevice(opts);
  ctx.own(dev);
  await prepareDevice(dev);
  const vae = await WanVae.load(dev, opts.model, { ...load, tile });
  try {
    const out = mode === 'encode' ? await vae.encode(input) : await vae.decode(input);
    await writeSafetensors(opts.output, { [mode === 'encode' ? 'latents' : 'frames']: { dtype: 'F32', shape: [...out.shape], data: out.data } });
    if (opts.timings) {
      const per = vae.lastStats.runs.flatMap((r) => r.chunkSeconds);
      process.stderr.write(`${mode}: ${vae.lastStats.tiles} tile(s), ${per.length} chunk runs: ${per.map((s) => s.toFixed(3)).join(' ')} s\n`);
    }
  } finally {
    await vae.close();
  }
}

/** Adds `vae-encode` and `vae-decode` to the `forward` command. */
export function registerVaeForward(forward: Command): void {
  addCommon(forward.command('vae-encode').description('encode frames [3, F, H, W] to normalised Wan VAE latents'))
    .addHelpText('after', ENCODE_HELP)
    .action((opts: VaeForwardOptions) => runCommand(Boolean(opts.verbose), (ctx) => run(opts, 'encode', ctx)));
  addCommon(forward.command('vae-decode').description('decode normalised Wan VAE latents to frames [3, F, H, W]'))
    .addHelpText('after', DECODE_HELP)
    .action((opts: VaeForwardOptions) => runCommand(Boolean(opts.verbose), (ctx) => run(opts, 'decode', ctx)));
}
