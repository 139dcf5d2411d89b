import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import {
  applyCfg,
  createScheduler,
  EulerScheduler,
  flowSigmas,
  SchedulerOptionError,
  UniPCScheduler,
  zeroExoColumns,
  type FlowScheduler,
  type SigmaVariant,
} from '../../src/model/schedulers/index.ts';

// Goldens come from test/reference/schedulers_reference.py (independent numpy/torch version).
const GOLDEN = 'test/golden/schedulers';

interface SequenceCase {
  variant: SigmaVariant;
  steps: number;
  shift: number;
  sigmas: number[];
  timesteps: number[];
}
interface SamplingRun {
  sampler: 'unipc' | 'euler';
  steps: number;
  shift: number;
  variant: SigmaVariant;
  disableCorrector: number[];
  final: string;
}
interface SamplingGolden {
  shape: [number, number, number, number];
  egoWidth: number;
  guidance: number;
  model: { condA: number[]; condB: number[]; uncondA: number[]; uncondB: number[] };
  xInit: string;
  runs: SamplingRun[];
}

const readJson = <T>(name: string): T => JSON.parse(fs.readFileSync(`${GOLDEN}/${name}`, 'utf8')) as T;

function f32FromBase64(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  const out = new Float32Array(bytes.length / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function relL2(a: Float32Array, ref: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (a[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return Math.sqrt(num / den);
}

const sequences = readJson<{ cases: SequenceCase[] }>('sequences.json').cases;
const sampling = readJson<SamplingGolden>('sampling.json');

describe('flowSigmas', () => {
  it('equals the reference sequences (timesteps exactly, sigmas within 1e-12)', () => {
    expect(sequences.length).toBe(12);
    let worst = 0;
    for (const c of sequences) {
      const s = flowSigmas({ steps: c.steps, shift: c.shift, variant: c.variant });
      expect(Array.from(s.timesteps), `${c.variant} N=${c.steps} s=${c.shift}`).toEqual(c.timesteps);
      expect(s.sigmas.length).toBe(c.steps + 1);
      for (let i = 0; i <= c.steps; i++) worst = Math.max(worst, Math.abs(s.sigmas[i] - c.sigmas[i]));
    }
    console.log(`flowSigmas: max |sigma - reference| over ${sequences.length} cases = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-12);
  });

  it('reproduces the documented diffusers v0.34.0 schedule for N=50, s=3 (EgoX)', () => {
    const { sigmas, timesteps } = flowSigmas({ steps: 50, shift: 3 });
    expect(Array.from(timesteps.subarray(0, 5))).toEqual([999, 992, 985, 978, 971]);
    expect(Array.from(timesteps.subarray(45))).toEqual([249, 206, 160, 111, 57]);
    expect(sigmas[0]).toBeCloseTo(0.99967, 5);
    expect(sigmas[49]).toBeCloseTo(0.0576, 4);
    expect(sigmas[50]).toBe(0);
    for (let i = 0; i < 50; i++) expect(sigmas[i + 1]).toBeLessThan(sigmas[i]);
  });

  it('reproduces the documented later-diffusers schedule (starts at sigma 1 - 1e-6)', () => {
    const { sigmas, timesteps } = flowSigmas({ steps: 50, shift: 3, variant: 'diffusers-latest' });
    expect(Array.from(timesteps.subarray(0, 3))).toEqual([999, 993, 986]);
    expect(Array.from(timesteps.subarray(47))).toEqual([162, 113, 60]);
    expect(sigmas[0]).toBe(1 - 1e-6);
  });

  it('rejects unusable options with a one-line exit-code-2 error', () => {
    const bad: Array<[string, () => unknown]> = [
      ['steps', () => flowSigmas({ steps: 0, shift: 3 })],
      ['steps', () => flowSigmas({ steps: 2.5, shift: 3 })],
      ['steps', () => flowSigmas({ steps: Number.NaN, shift: 3 })],
      ['shift', () => flowSigmas({ steps: 10, shift: 0 })],
      ['shift', () => flowSigmas({ steps: 10, shift: Number.POSITIVE_INFINITY })],
      ['variant', () => flowSigmas({ steps: 10, shift: 3, variant: 'ddim' as SigmaVariant })],
      ['sampler', () => createScheduler('heun' as 'euler', { steps: 10, shift: 3 })],
    ];
    for (const [option, f] of bad) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SchedulerOptionError);
      expect((err as SchedulerOptionError).exitCode).toBe(2);
      expect((err as SchedulerOptionError).option).toBe(option);
      expect((err as Error).message).not.toContain('\n');
    }
  });
});

/** The toy model of the reference: v = tanh(x * a_c + (t/1000) * b_c), per channel, float32. */
function toyModel(x: Float32Array, t: number, a: number[], b: number[], perChannel: number): Float32Array {
  const v = new Float32Array(x.length);
  for (let j = 0; j < x.length; j++) {
    const c = Math.floor(j / perChannel);
    v[j] = Math.tanh(x[j] * a[c] + (t / 1000) * b[c]);
  }
  return v;
}

/** The EgoX loop: two model branches, CFG, exo columns zeroed, one scheduler step. */
function runSampler(sched: FlowScheduler, xInit: Float32Array): Float32Array {
  const { shape, egoWidth, guidance, model } = sampling;
  const perChannel = shape[1] * shape[2] * shape[3];
  let x = xInit;
  while (sched.stepIndex < sched.numSteps) {
    const t = sched.timesteps[sched.stepIndex];
    const vu = toyModel(x, t, model.uncondA, model.uncondB, perChannel);
    const vc = toyModel(x, t, model.condA, model.condB, perChannel);
    const v = zeroExoColumns(applyCfg(vu, vc, guidance), shape, egoWidth);
    x = sched.step(v, x);
  }
  return x;
}

describe('sampling against the reference (toy model, CFG 5, exo columns zeroed)', () => {
  const xInit = f32FromBase64(sampling.xInit);
  const [, , , width] = sampling.shape;
  const exo = width - sampling.egoWidth;

  for (const run of sampling.runs) {
    const label = `${run.sampler} N=${run.steps} ${run.variant}${run.disableCorrector.length ? ` disableCorrector=[${run.disableCorrector}]` : ''}`;
    it(label, () => {
      const opts = { steps: run.steps, shift: run.shift, variant: run.variant, disableCorrector: run.disableCorrector };
      const sched = run.sampler === 'unipc' ? new UniPCScheduler(opts) : new EulerScheduler(opts);
      const out = runSampler(sched, xInit);
      const ref = f32FromBase64(run.final);
      expect(out.length).toBe(ref.length);
      const err = relL2(out, ref);
      let exoErr = 0;
      let egoMove = 0;
      for (let j = 0; j < out.length; j++) {
        const d = Math.abs(out[j] - xInit[j]);
        if (j % width < exo) exoErr = Math.max(exoErr, d);
        else egoMove = Math.max(egoMove, d);
      }
      console.log(`${label}: rel L2 vs reference ${err.toExponential(2)}, exo max |x - x_init| ${exoErr.toExponential(2)}`);
      expect(err).toBeLessThan(1e-6);
      expect(exoErr).toBeLessThanOrEqual(1e-6);
      expect(egoMove).toBeGreaterThan(0.1); // the ego part really was sampled
    });
  }

  it('disabling correctors changes the result (the corrector is active by default)', () => {
    const runs = sampling.runs.filter((r) => r.sampler === 'unipc' && r.steps === 12 && r.variant === 'diffusers-0.34');
    expect(runs.length).toBe(2);
    expect(relL2(f32FromBase64(runs[0].final), f32FromBase64(runs[1].final))).toBeGreaterThan(1e-4);
  });
});

describe('UniPCScheduler', () => {
  it('a single step is order 1 to sigma 0 and returns x0_hat = x - sigma * v', () => {
    const s = new UniPCScheduler({ steps: 1, shift: 3 });
    const x = Float32Array.from([0.5, -1.25, 2, 3.5]);
    const v = Float32Array.from([1, 0.5, -2, 0.25]);
    const out = s.step(v, x);
    const sigma = s.sigmas[0];
    expect(Array.from(out)).toEqual(Array.from(x, (xi, j) => Math.fround(xi - sigma * v[j])));
    expect(s.stepIndex).toBe(1);
  });

  it('is exact for a perfect denoiser v = (x - x0) / sigma, for every variant', () => {
    const x0 = Float32Array.from({ length: 64 }, (_, j) => Math.sin(j * 1.7) * 2);
    const noise = Float32Array.from({ length: 64 }, (_, j) => Math.cos(j * 0.9 + 0.3));
    for (const variant of ['diffusers-0.34', 'diffusers-latest', 'wan-original'] as const) {
      const s = new UniPCScheduler({ steps: 12, shift: 3, variant });
      const s0 = s.sigmas[0];
      let x: Float32Array = Float32Array.from(x0, (d, j) => (1 - s0) * d + s0 * noise[j]);
      while (s.stepIndex < s.numSteps) {
        const sigma = s.sigmas[s.stepIndex];
        x = s.step(Float32Array.from(x, (xi, j) => (xi - x0[j]) / sigma), x);
      }
      expect(relL2(x, x0)).toBeLessThan(1e-6);
    }
  });

  it('converges on a Gaussian data flow at a higher order than Euler', () => {
    // Data x0 ~ N(mu, s^2): the flow ODE keeps z = (x - m(sigma)) / sd(sigma) constant, with
    // m = (1 - sigma) mu and sd^2 = (1 - sigma)^2 s^2 + sigma^2; v = dx/dsigma along it.
    // Compared at sigma_k, k = 0.8 N (N and 2N share that sigma), before the final jump to 0.
    const mu = 0.7;
    const s = 0.4;
    const z = Float32Array.from({ length: 256 }, (_, j) => Math.sin(j * 12.9898) * 2.5);
    const m = (sg: number) => (1 - sg) * mu;
    const sd = (sg: number) => Math.sqrt((1 - sg) ** 2 * s ** 2 + sg ** 2);
    const velocity = (x: Float32Array, sg: number) => {
      const k = (sg - (1 - sg) * s ** 2) / sd(sg) ** 2;
      return Float32Array.from(x, (xi) => -mu + k * (xi - m(sg)));
    };
    const error = (sched: FlowScheduler) => {
      const stop = Math.round(0.8 * sched.numSteps);
      let x: Float32Array = Float32Array.from(z, (zi) => m(sched.sigmas[0]) + sd(sched.sigmas[0]) * zi);
      while (sched.stepIndex < stop) x = sched.step(velocity(x, sched.sigmas[sched.stepIndex]), x);
      const sg = sched.sigmas[stop];
      return relL2(x, Float32Array.from(z, (zi) => m(sg) + sd(sg) * zi));
    };
    const uni20 = error(new UniPCScheduler({ steps: 20, shift: 3 }));
    const uni40 = error(new UniPCScheduler({ steps: 40, shift: 3 }));
    const eul20 = error(new EulerScheduler({ steps: 20, shift: 3 }));
    const eul40 = error(new EulerScheduler({ steps: 40, shift: 3 }));
    console.log(
      `Gaussian flow at sigma=0.428: UniPC N=20 ${uni20.toExponential(2)}, N=40 ${uni40.toExponential(2)}; ` +
        `Euler N=20 ${eul20.toExponential(2)}, N=40 ${eul40.toExponential(2)}`,
    );
    expect(uni40).toBeLessThan(uni20 / 4); // at least second order
    expect(eul40).toBeGreaterThan(eul20 / 2.5); // Euler: first order only
    expect(uni20).toBeLessThan(eul20 / 5);
  });

  it('reset() restarts sampling and gives the same result', () => {
    const s = createScheduler('unipc', { steps: 4, shift: 3 });
    const run = () => {
      let x: Float32Array = Float32Array.from([1, -2, 0.5]);
      while (s.stepIndex < s.numSteps) x = s.step(Float32Array.from(x, (xi) => Math.tanh(xi) + 0.1), x);
      return x;
    };
    const a = run();
    expect(() => s.step(new Float32Array(3), new Float32Array(3))).toThrow(/after the last of 4 steps/);
    s.reset();
    expect(s.stepIndex).toBe(0);
    expect(Array.from(run())).toEqual(Array.from(a));
  });

  it('refuses mismatched lengths', () => {
    const s = new UniPCScheduler({ steps: 3, shift: 3 });
    expect(() => s.step(new Float32Array(2), new Float32Array(3))).toThrow(/model output has 2 values/);
    s.step(new Float32Array(3), new Float32Array(3));
    expect(() => s.step(new Float32Array(4), new Float32Array(4))).toThrow(/earlier steps had 3/);
  });
});

describe('EulerScheduler', () => {
  it('steps x + (sigma_next - sigma) * v on the flow schedule', () => {
    const s = createScheduler('euler', { steps: 2, shift: 5, variant: 'wan-original' });
    const x = Float32Array.from([1, 2]);
    const v = Float32Array.from([0.5, -1]);
    const out = s.step(v, x);
    const dt = s.sigmas[1] - s.sigmas[0];
    expect(Array.from(out)).toEqual([Math.fround(1 + dt * 0.5), Math.fround(2 - dt)]);
    const last = s.step(v, out);
    expect(last[0]).toBe(Math.fround(out[0] - s.sigmas[1] * 0.5));
  });
});

describe('guidance', () => {
  it('applyCfg is uncond + g * (cond - uncond)', () => {
    const u = Float32Array.from([1, -2, 0.25]);
    const c = Float32Array.from([3, 1, 0.25]);
    expect(Array.from(applyCfg(u, c, 5))).toEqual([11, 13, 0.25]);
    expect(Array.from(applyCfg(u, c, 1))).toEqual(Array.from(c));
    expect(Array.from(applyCfg(u, c, 0))).toEqual(Array.from(u));
    let err: unknown;
    try {
      applyCfg(u, c, Number.NaN);
    } catch (e) {
      err = e;
    }
    expect((err as SchedulerOptionError).exitCode).toBe(2);
    expect(() => applyCfg(u, new Float32Array(2), 5)).toThrow(/lengths differ/);
  });

  it('zeroExoColumns keeps only the last egoWidth columns of each row', () => {
    const shape = [2, 1, 2, 5];
    const v = Float32Array.from({ length: 20 }, (_, j) => j + 1);
    zeroExoColumns(v, shape, 2);
    for (let j = 0; j < 20; j++) expect(v[j]).toBe(j % 5 < 3 ? 0 : j + 1);
    expect(Array.from(zeroExoColumns(Float32Array.from([1, 2, 3]), [1, 3], 0))).toEqual([0, 0, 0]);
    expect(Array.from(zeroExoColumns(Float32Array.from([1, 2, 3]), [1, 3], 3))).toEqual([1, 2, 3]);
    expect(() => zeroExoColumns(new Float32Array(6), [2, 2], 1)).toThrow(/holds 4 values/);
    expect(() => zeroExoColumns(new Float32Array(6), [2, 3], 4)).toThrow(/egoWidth 4/);
  });
});
