import { describe, expect, it } from 'vitest';
import * as egox from '../src/index.ts';

describe('public API', () => {
  it('builds and runs a graph through the exported names only', async () => {
    const dev = await egox.openNodeDevice();
    try {
      const g = new egox.ModelGraph();
      const x = g.input('x', [4]);
      g.output('y', g.scale(g.add(x, g.weight('b', [4], 'f32')), 2));
      const src = new egox.MemoryWeightSource().set('b', 'F32', [4], Float32Array.from([1, 2, 3, 4]));
      const exec = await egox.Executor.create(dev, g.build(), new egox.WeightStore(src, 'memory'));
      await exec.run({ x: Float32Array.from([1, 1, 1, 1]) });
      expect([...(await exec.read('y'))]).toEqual([4, 6, 8, 10]);
      exec.destroy();
    } finally {
      dev.destroy();
    }
  });
  it('exports the model, planning and reconstruction entry points', () => {
    for (const name of ['WanDit', 'WanVae', 'planDitRun', 'planVae', 'sampleLatents', 'renderPrior', 'loadEgoxTake', 'attachLora', 'UniPCScheduler', 'UnigramTokenizer', 'generate', 'runDemo', 'ensureDemoWeights', 'encodePrompts', 'encodeImage']) {
      expect(typeof (egox as Record<string, unknown>)[name], name).toBe('function');
    }
  });
});
