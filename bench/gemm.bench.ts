// GEMM benchmarks: Y = X W^T at the issue's shapes, f32 and with a bf16 weight, with weights
// as quantized files hold them (fp8 E4M3, GGML Q8_0 / Q4_0 / Q4_K / Q6_K, widened in the weight
// load), plus the runtime-LoRA form. Peers: tfjs-webgpu matMul (same adapter, same process) and
// numpy sgemm; quantized rows also race egox's own f32-weight GEMM of the same shape, so the
// cost of the widening shows as a ratio from one interleaved run.
// With --tune the variants are timed first and the winner per shape class is stored.

import { gemm } from '../src/kernels/gemm/index.ts';
import { loraDown, loraUp } from '../src/kernels/gemm/lora.ts';
import { loadGemmTuning, tuneGemm } from '../src/kernels/tuning/gemm-autotune.ts';
import { chooseGemmVariant, gemmShapeClass, type GemmShape } from '../src/kernels/gemm/variants.ts';
import { numpyMatmulPeer } from './peers/numpy.ts';
import { tfjsMatMulPeer } from './peers/tfjs.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import type { BenchCase, BenchContext, BenchListContext, BenchPeer } from './types.ts';

function random(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

/** Shape classes tuned in this process: cases sharing a class are tuned once. */
const tunedHere = new WeakMap<object, Set<string>>();

async function prepareVariant(ctx: BenchContext, shape: GemmShape): Promise<string> {
  const done = tunedHere.get(ctx.dev) ?? new Set<string>();
  tunedHere.set(ctx.dev, done);
  if (ctx.tune && !done.has(gemmShapeClass(shape))) {
    done.add(gemmShapeClass(shape));
    ctx.log(`tuning gemm ${shape.M}x${shape.N}x${shape.K} ${shape.wDtype}:`);
    const r = await tuneGemm(ctx.dev, shape, { store: ctx.store, force: true, log: ctx.log });
    ctx.log(`  winner ${JSON.stringify(r.winner)}`);
  } else if (ctx.store) {
    await loadGemmTuning(ctx.dev, ctx.store);
  }
  return JSON.stringify(chooseGemmVariant(ctx.dev, shape));
}

type BenchWeight = 'f32' | 'bf16' | 'f8e4m3' | 'q8_0' | 'q4_0' | 'q4_k' | 'q6_k';

/** A weight of `dtype`: floats uploaded and converted, quantized forms as random stored bytes (timing only). */
async function benchWeight(dev: BenchContext['dev'], N: number, K: number, dtype: BenchWeight) {
  if (dtype === 'f32' || dtype === 'bf16') return dev.upload(random(N * K), [N, K], dtype);
  const w = dev.empty([N, K], dtype);
  await dev.write(w, Uint8Array.from({ length: w.byteLength }, () => Math.floor(Math.random() * 256)));
  return w;
}

/** egox's GEMM of the same shape with f32 weights, as a peer of a quantized row. */
async function f32WeightPeer(dev: BenchContext['dev'], x: Tensor, N: number, K: number): Promise<BenchPeer> {
  const w = await benchWeight(dev, N, K, 'f32');
  const y = dev.empty([x.shape[0]!, N], 'f32');
  return {
    name: 'egox gemm, W f32',
    run: () => void gemm(dev, x, w, { out: y }),
    sync: () => dev.sync(),
    dispose: () => {
      w.release();
      y.release();
    },
  };
}

/** `peers`: 'all' (tfjs, numpy; plus egox f32 for quantized weights) or 'f32' (egox f32 only, for shapes too slow for tfjs). */
function gemmCase(M: number, N: number, K: number, wDtype: BenchWeight, lora?: number, peerSet: 'all' | 'f32' = 'all'): BenchCase {
  const flops = 2 * M * N * K + (lora ? 2 * M * lora * K + 2 * M * N * lora : 0);
  return {
    kernel: lora ? 'gemm-lora' : 'gemm',
    shape: `${M}x${N}x${K} W ${wDtype}${lora ? ` r${lora}` : ''}`,
    flops,
    async setup(ctx) {
      const { dev } = ctx;
      const variant = await prepareVariant(ctx, { M, N, K, wDtype });
      ctx.log(`gemm ${M}x${N}x${K} ${wDtype}: variant ${variant}`);
      const x = await dev.upload(random(M * K), [M, K], 'f32');
      const w = await benchWeight(dev, N, K, wDtype);
      const y = dev.empty([M, N], 'f32');
      const ab = wDtype === 'f32' ? 'f32' : 'bf16';
      const a = lora ? await dev.upload(random(lora * K), [lora, K], ab) : undefined;
      const b = lora ? await dev.upload(random(N * lora), [N, lora], ab) : undefined;
      const t = lora ? dev.empty([M, lora], 'f32') : undefined; // the planned activation T of the graph's form
      // Peers compute the plain f32 GEMM (neither has bf16 weights); the LoRA case is compared
      // with tfjs running the plain GEMM too, so its ratio shows what the LoRA term costs.
      const quant = wDtype !== 'f32' && wDtype !== 'bf16' && !lora;
      const peers: (BenchPeer | undefined)[] = [];
      if (peerSet === 'all') peers.push(await tfjsMatMulPeer(M, N, K));
      if (peerSet === 'all' && !lora) peers.push(numpyMatmulPeer(M, N, K));
      if (quant) peers.push(await f32WeightPeer(dev, x, N, K));
      return {
        run: () => {
          if (a && t && b) loraUp(dev, x, w, { t: loraDown(dev, x, a, 1, { out: t }), b }, { out: y });
          else gemm(dev, x, w, { out: y });
        },
        peers,
        dispose: () => {
          for (const u of [x, w, y, a, b, t]) u?.release();
          for (const p of peers) p?.dispose?.();
        },
      };
    },
  };
}

export function cases(ctx: BenchListContext): BenchCase[] {
  void ctx;
  return [
    gemmCase(1024, 1024, 1024, 'f32'),
    gemmCase(2048, 512, 512, 'f32'),
    gemmCase(1024, 1024, 1024, 'bf16'),
    gemmCase(1024, 1024, 1024, 'bf16', 64),
    gemmCase(1024, 1024, 1024, 'f8e4m3'),
    gemmCase(1024, 1024, 1024, 'q8_0'),
    gemmCase(1024, 1024, 1024, 'q4_0'),
    gemmCase(1024, 1024, 1024, 'q4_k'),
    gemmCase(1024, 1024, 1024, 'q6_k'),
    gemmCase(1024, 1024, 1024, 'q4_k', 64),
    // A DiT block Linear's K (5120), M and N scaled down from 1560 x 5120 by 4.
    ...(['q8_0', 'q4_0', 'q4_k', 'q6_k'] as const).map((t) => gemmCase(390, 1280, 5120, t, undefined, 'f32')),
  ];
}
