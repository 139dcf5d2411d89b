/**
 * Cold-compile cost of the tiny demo VAE: encode + decode of a 9-frame clip at 64x112, then
 * at 64x64 on the same device, printing pipelines compiled (per kernel family) and wall time.
 * Run with a fresh Mesa shader cache to measure cold compiles:
 *   MESA_SHADER_CACHE_DIR=/tmp/mesa-$RANDOM npx tsx test/tools/vae-compile-count.ts [--keys] [/tmp/egox-demo]
 * --keys also lists the pipeline keys each size added.
 */
import { ensureDemoWeights } from '../../src/demo/weights.ts';
import { WanVae, type HostTensor } from '../../src/model/vae/vae.ts';
import { openNodeDevice } from '../../src/runtime/node.ts';

const args = process.argv.slice(2);
const showKeys = args.includes('--keys');
const root = args.find((a) => !a.startsWith('--')) ?? '/tmp/egox-demo-weights';
const { modelDir } = await ensureDemoWeights(root);
const dev = await openNodeDevice();
const vae = await WanVae.load(dev, `${modelDir}/vae`);

function clip(f: number, h: number, w: number): HostTensor {
  const data = new Float32Array(3 * f * h * w);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.8;
  return { data, shape: [3, f, h, w] };
}

// PipelineCache keeps its keys private; this diagnostic reads them anyway.
const pipelineKeys = (): string[] => [...(dev.pipelines as unknown as { byKey: Map<string, unknown> }).byKey.keys()];

function families(): Map<string, number> {
  const m = new Map<string, number>();
  for (const key of pipelineKeys()) {
    const fam = key.split(':').slice(0, key.startsWith('conv:') ? 2 : 1).join(':');
    m.set(fam, (m.get(fam) ?? 0) + 1);
  }
  return m;
}

const t00 = performance.now();
for (const [h, w] of [[64, 112], [64, 64]] as const) {
  const k0 = new Set(pipelineKeys());
  const c0 = dev.pipelines.stats.compiled;
  const t0 = performance.now();
  const z = await vae.encode(clip(9, h, w));
  const t1 = performance.now();
  const c1 = dev.pipelines.stats.compiled;
  const y = await vae.decode(z);
  const t2 = performance.now();
  const c2 = dev.pipelines.stats.compiled;
  let finite = true;
  for (const v of y.data) if (!Number.isFinite(v)) finite = false;
  console.log(
    `9x${h}x${w}: encode ${((t1 - t0) / 1000).toFixed(1)} s, +${c1 - c0} pipelines; decode ${((t2 - t1) / 1000).toFixed(1)} s, +${c2 - c1} pipelines; ` +
      `latents [${z.shape.join(', ')}], frames [${y.shape.join(', ')}]${finite ? '' : ' (NON-FINITE OUTPUT)'}`,
  );
  if (showKeys) for (const k of pipelineKeys()) if (!k0.has(k)) console.log(`  ${k}`);
}
console.log(`total: ${dev.pipelines.stats.compiled} pipelines compiled, ${((performance.now() - t00) / 1000).toFixed(1)} s`);
console.log([...families()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', '));
await vae.close();
