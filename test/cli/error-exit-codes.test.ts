// Which errors exit 2 (the user's input or environment) and which exit 1 (a fault of egox),
// and the CLI's wording of typed errors thrown by layers that know no options.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { reportError } from '../../src/cli/run-command.ts';
import { ModelGraph } from '../../src/graph/ops/index.ts';
import { GraphError } from '../../src/graph/ir.ts';
import { GpuMemoryBudgetError, planExecution } from '../../src/graph/plan.ts';
import { MemoryWeightSource, WeightFileError, WeightStore } from '../../src/graph/weights.ts';
import { RunSizeError, latentShapeFor } from '../../src/model/wan/plan-run.ts';
import { WAN_CONFIGS } from '../../src/model/wan/config.ts';
import { InputError } from '../../src/runtime/errors.ts';
import { FileFormatError } from '../../src/io/format-error.ts';

function report(e: unknown): { code: number; stderr: string } {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    return { code: reportError(e, false), stderr };
  } finally {
    spy.mockRestore();
  }
}

function smallGraph(): ReturnType<ModelGraph['build']> {
  const g = new ModelGraph();
  g.output('y', g.add(g.input('x', [64], 'f32'), g.weight('b', [64], 'f32')));
  return g.build();
}

afterEach(() => vi.restoreAllMocks());

describe('exit codes of errors', () => {
  it('an internal graph fault exits 1 and says internal error', () => {
    const g = new ModelGraph();
    g.input('x', [4], 'f32');
    let fault: unknown;
    try {
      g.input('x', [4], 'f32'); // a graph built wrongly is egox's bug, not the user's
    } catch (e) {
      fault = e;
    }
    expect(fault).toBeInstanceOf(GraphError);
    expect(fault).not.toBeInstanceOf(InputError);
    const r = report(fault);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^egox: internal error: graph input 'x' declared twice/);
  });

  it('a checkpoint missing a weight is an input error: exit 2, one line', async () => {
    const store = new WeightStore(new MemoryWeightSource(), 'model.safetensors');
    let err: unknown;
    try {
      store.check('b', [64]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeightFileError);
    const r = report(err);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("egox: weight 'b' not found in model.safetensors: is this the right model folder or format?\n");
  });

  it('every file error derives from the one root', () => {
    expect(new FileFormatError('a.npy', 'bad magic')).toBeInstanceOf(InputError);
    expect(report(new FileFormatError('a.npy', 'bad magic')).code).toBe(2);
  });

  it('an over-budget plan carries its numbers; only the CLI names --gpu-memory', () => {
    const graph = smallGraph();
    let err: unknown;
    try {
      planExecution(graph, { gpuMemoryBytes: 16 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GpuMemoryBudgetError);
    const b = err as GpuMemoryBudgetError;
    expect(b.budgetBytes).toBe(16);
    expect(b.neededBytes).toBeGreaterThan(16);
    expect(b.message).not.toMatch(/--/);
    const r = report(err);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/budget .*: raise --gpu-memory or use a smaller input\n$/);
  });

  it('run sizes name the setting; the CLI turns it into its option', () => {
    let err: unknown;
    try {
      latentShapeFor({ config: WAN_CONFIGS.tiny!, ego: { height: 64, width: 64 }, exo: null, frames: 48 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RunSizeError);
    expect((err as Error).message).toBe('frames 48: the Wan VAE needs 1 + 4k frames (e.g. 49)');
    expect(report(err).stderr).toBe('egox: --frames 48: the Wan VAE needs 1 + 4k frames (e.g. 49)\n');
  });
});
