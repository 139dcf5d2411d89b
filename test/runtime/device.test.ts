import { describe, expect, it } from 'vitest';
import { useDevice } from '../helpers/gpu.ts';
import { EgoxDevice } from '../../src/runtime/device.ts';
import { requestNodeAdapter } from '../../src/runtime/node.ts';
import { castProgram, cast } from '../../src/kernels/elementwise/cast.ts';
import { binary, fill, scale } from '../../src/kernels/elementwise/binary.ts';
import { f32ToHalfCodes, halfCodesToF32, type DType } from '../../src/runtime/dtype.ts';
import type { KernelProgram } from '../../src/runtime/program.ts';
import { trickyF32 } from './dtype.test.ts';

const device = useDevice();

/** Writes each workgroup's linear index: proves folding past the per-dimension limit. */
function indexProgram(workgroups: number): KernelProgram {
  return {
    name: 'test-index',
    key: `test-index:${workgroups}`,
    workgroupSize: [1, 1, 1],
    bindings: [{ name: 'out', type: 'u32', access: 'read_write' }],
    dispatch: workgroups,
    wgsl: `@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = egoxWorkgroupIndex(wid, nwg);
  if (i >= params.egoxWorkgroups) { return; }
  out[i] = i * 3u + 1u;
}`,
  };
}

describe('EgoxDevice', () => {
  it('runs a dispatch and reads the result back', async () => {
    const dev = await device();
    const a = await dev.upload(Float32Array.from([1, 2, 3, 4, 5]), [5], 'f32');
    const b = await dev.upload(Float32Array.from([10, 20, 30, 40, 50]), [5], 'f32');
    expect([...(await dev.read(binary(dev, 'add', a, b)))]).toEqual([11, 22, 33, 44, 55]);
    expect([...(await dev.read(binary(dev, 'mul', a, b)))]).toEqual([10, 40, 90, 160, 250]);
    expect([...(await dev.read(scale(dev, a, 2, 0.5)))]).toEqual([2.5, 4.5, 6.5, 8.5, 10.5]);
    const bias = await dev.upload(Float32Array.from([100]), [1], 'f32');
    expect([...(await dev.read(binary(dev, 'add', a, bias)))]).toEqual([101, 102, 103, 104, 105]);
    const t = dev.empty([7], 'f32');
    expect([...(await dev.read(fill(dev, t, -2.5)))]).toEqual(Array(7).fill(-2.5));
  });

  it('folds a dispatch larger than maxComputeWorkgroupsPerDimension', async () => {
    const dev = await device();
    const n = dev.limits.maxComputeWorkgroupsPerDimension + 4321;
    const out = dev.empty([n], 'u32');
    await dev.write(out, new Uint8Array(n * 4).fill(0xff));
    dev.run(indexProgram(n), [out]);
    const got = new Uint32Array((await dev.readBytes(out)).buffer);
    let bad = 0;
    for (let i = 0; i < n; i++) if (got[i] !== i * 3 + 1) bad++;
    expect(bad).toBe(0);
  });

  it('compiles a pipeline once and hits the cache afterwards', async () => {
    const dev = await device();
    const before = dev.pipelines.stats.compiled;
    const p = castProgram({ from: 'f32', to: 'bf16', numel: 33 });
    const x = await dev.upload(new Float32Array(33), [33], 'f32');
    const y = dev.empty([33], 'bf16');
    dev.run(p, [x, y]);
    const hits = dev.pipelines.stats.hits;
    dev.run(castProgram({ from: 'f32', to: 'bf16', numel: 33 }), [x, y]);
    await dev.sync();
    expect(dev.pipelines.stats.compiled).toBe(before + 1);
    expect(dev.pipelines.stats.hits).toBe(hits + 1);
  });

  it('reuses one pipeline per op and dtype across element counts (sizes are uniforms)', async () => {
    const dev = await device();
    const run = async (n: number) => {
      const a = Float32Array.from({ length: n }, (_, i) => i - 3.25);
      const b = Float32Array.from({ length: 3 }, (_, i) => 10 * (i + 1));
      const x = await dev.upload(a, [n], 'bf16');
      const sum = await dev.read(binary(dev, 'add', x, await dev.upload(b, [3], 'bf16')));
      const back = await dev.read(cast(dev, cast(dev, x, 'f32'), 'f16'));
      const filled = await dev.read(fill(dev, dev.empty([n], 'f16'), 1.5));
      return { a, b, sum, back, filled };
    };
    await run(9); // compiles
    const before = dev.pipelines.stats.compiled;
    for (const n of [15, 33, 6]) {
      const { a, b, sum, back, filled } = await run(n);
      expect([...sum]).toEqual([...a].map((v, i) => v + b[i % 3]!));
      expect([...back]).toEqual([...a]); // quarter steps are exact in bf16 and f16
      expect([...filled]).toEqual(Array(n).fill(1.5));
    }
    expect(dev.pipelines.stats.compiled).toBe(before);
  });

  it('retries without the experimental subgroup-matrix feature when the adapter refuses it', async () => {
    const real = await requestNodeAdapter();
    const asked: string[][] = [];
    const features = new Set([...real.features, 'chromium-experimental-subgroup-matrix']);
    const adapter = new Proxy(real, {
      get(target, prop) {
        if (prop === 'features') return features;
        if (prop === 'requestDevice') {
          return (desc: GPUDeviceDescriptor) => {
            const wanted = [...(desc.requiredFeatures ?? [])] as string[];
            asked.push(wanted);
            if (wanted.includes('chromium-experimental-subgroup-matrix')) return Promise.reject(new Error('driver says no'));
            return target.requestDevice(desc);
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const dev = await EgoxDevice.fromAdapter(adapter);
    try {
      expect(asked.length).toBe(2);
      expect(dev.has('chromium-experimental-subgroup-matrix')).toBe(false);
      expect(dev.has('subgroups')).toBe(real.features.has('subgroups'));
      expect(dev.adapter.subgroupMatrixConfigs).toEqual([]);
    } finally {
      dev.destroy();
    }
  });

  it('casts f32 <-> f16/bf16 on the GPU bit-exactly like the CPU', async () => {
    const dev = await device();
    const x = trickyF32().subarray(0, 3001); // odd length: half a word at the end
    const src = await dev.upload(x, [x.length], 'f32');
    for (const dt of ['f16', 'bf16'] as const) {
      const half = cast(dev, src, dt);
      const bytes = await dev.readBytes(half);
      const gpuCodes = new Uint16Array(bytes.buffer, 0, x.length);
      const cpuCodes = f32ToHalfCodes(x, dt);
      let mismatches = 0;
      for (let i = 0; i < x.length; i++) if (gpuCodes[i] !== cpuCodes[i]) mismatches++;
      expect(mismatches, `${dt} codes`).toBe(0);
      // and back: widening is exact
      const back = await dev.read(cast(dev, half, 'f32'));
      const want = halfCodesToF32(cpuCodes, dt);
      expect(Buffer.from(back.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    }
  });

  it('casts between f16 and bf16 through f32', async () => {
    const dev = await device();
    const x = trickyF32().subarray(0, 999);
    const f16 = await dev.upload(f32ToHalfCodes(x, 'f16'), [x.length], 'f16');
    const bf = await dev.read(cast(dev, f16, 'bf16' as DType));
    const want = halfCodesToF32(f32ToHalfCodes(halfCodesToF32(f32ToHalfCodes(x, 'f16'), 'f16'), 'bf16'), 'bf16');
    expect(Buffer.from(bf.buffer).equals(Buffer.from(want.buffer))).toBe(true);
  });

  it('reports a GPU validation error with the kernel name', async () => {
    const dev = await device();
    const bad: KernelProgram = { ...indexProgram(1), key: 'test-broken', wgsl: 'this is not wgsl' };
    const out = dev.empty([1], 'u32');
    let err: unknown;
    try {
      dev.run(bad, [out]);
      await dev.sync();
    } catch (e) {
      err = e;
    }
    expect(String(err)).toMatch(/test-broken/);
  });
});

describe('EGOX_DEBUG=sync mode', () => {
  const debugDevice = useDevice({ debugSync: true });
  it('submits each dispatch alone and names the kernel that failed', async () => {
    const dev = await debugDevice();
    expect(dev.debugSync).toBe(true);
    const a = await dev.upload(Float32Array.from([1, 2, 3]), [3], 'f32');
    const y = scale(dev, a, 3);
    expect([...(await dev.read(y))]).toEqual([3, 6, 9]);
    const broken: KernelProgram = { ...indexProgram(1), key: 'debug-broken-kernel', wgsl: 'fn main() { let x: u32 = 1.5; }' };
    let err: unknown;
    try {
      dev.run(broken, [dev.empty([1], 'u32')]);
      await dev.sync();
    } catch (e) {
      err = e;
    }
    expect(String(err)).toMatch(/debug-broken-kernel/);
  });
});
