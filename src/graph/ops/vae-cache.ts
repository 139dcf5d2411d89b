// Graph ops for state carried between runs of a chunk graph (the Wan VAE's causal-conv frame
// caches). A state is a named graph output: the executor gives it its own buffer that no
// other value reuses and that keeps its contents between runs (zero when created), so a conv
// may read last run's frames from it and a cache-update node later in the same graph
// overwrites it in place with this chunk's last frames. The reader must come before the
// writer in node order (model code adds the update right after the conv that reads it).

import { cacheUpdateProgram, cacheUpdateUniforms } from '../../kernels/conv/index.ts';
import { shapeString, type Shape } from '../../runtime/tensor.ts';
import { expectDtype, type GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';

/** Declares a persistent f32 state [C, frames, H, W] named `name` (a graph output). */
export function stateOp(g: GraphBuilder, name: string, shape: Shape): Value {
  const [v] = g.addNode({
    name: `${name}:state`,
    family: 'state',
    inputs: [],
    outputs: [{ shape, dtype: 'f32' }],
    lower: () => [], // no work: the buffer is the state
  });
  return g.output(name, v!);
}

/**
 * Writes the last `keep` frames of cat(state, x) into `state` [C, keep, H, W], in place.
 * `hasOld` false treats the state's current contents as zeros (the first chunk).
 */
export function cacheUpdateOp(g: GraphBuilder, x: Value, state: Value, hasOld: boolean, name?: string): void {
  const node = name ?? 'cache-update';
  expectDtype(node, 'x', x, ['f32']);
  expectDtype(node, 'state', state, ['f32']);
  if (state.kind !== 'output') throw new GraphError(`${node}: the state must come from stateOp`);
  const [c, f, h, w] = x.shape as [number, number, number, number];
  if (x.shape.length !== 4 || state.shape.length !== 4 || state.shape[0] !== c || state.shape[2] !== h || state.shape[3] !== w) {
    throw new GraphError(`${node}: state ${shapeString(state.shape)} does not match x ${shapeString(x.shape)}`);
  }
  const spec = { channels: c, frames: f, pixels: h * w, keep: state.shape[1]!, hasOld };
  g.addNode({
    name,
    family: 'vae-cache',
    inputs: [x, state],
    outputs: [],
    lower: (ins) => [{ program: cacheUpdateProgram(spec), bindings: [ins[0]!, ins[1]!], uniforms: cacheUpdateUniforms(spec) }],
  });
}
