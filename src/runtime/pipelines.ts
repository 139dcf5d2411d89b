// Pipelines and bind-group layouts cached by kernel key: compiling WGSL is the slowest
// thing a kernel launch can do (0.25-0.65 s for a large unrolled shader on lavapipe).

import { assembleWgsl, type KernelProgram } from './program.ts';

export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  program: KernelProgram;
}

export class PipelineCache {
  private readonly byKey = new Map<string, CachedPipeline>();
  readonly stats = { compiled: 0, hits: 0 };

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.byKey.size;
  }

  get(program: KernelProgram): CachedPipeline {
    const hit = this.byKey.get(program.key);
    if (hit) {
      this.stats.hits++;
      return hit;
    }
    const entries: GPUBindGroupLayoutEntry[] = program.bindings.map((b, i) => ({
      binding: i,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: b.access === 'read' ? 'read-only-storage' : 'storage' },
    }));
    entries.push({ binding: program.bindings.length, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
    const layout = this.device.createBindGroupLayout({ label: program.key, entries });
    const module = this.device.createShaderModule({ label: program.key, code: assembleWgsl(program) });
    const pipeline = this.device.createComputePipeline({
      label: program.key,
      layout: this.device.createPipelineLayout({ label: program.key, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    const cached = { pipeline, layout, program };
    this.byKey.set(program.key, cached);
    this.stats.compiled++;
    return cached;
  }
}
