// Graph op over the channel RMS norm kernel (src/kernels/norm/channel.ts): the Wan VAE's
// F.normalize over channels * sqrt(C) * gamma on [C, F, H, W], optionally fused with SiLU.

import { channelRmsApplyProgram, channelRmsNormFusable, channelRmsNormProgram, channelRmsNormUniforms, channelRmsStatsProgram, type ChannelRmsNormSpec } from '../../kernels/norm/index.ts';
import { numelOf, shapeString } from '../../runtime/tensor.ts';
import { expectDtype, type GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';

const FLOATS = ['f32', 'f16', 'bf16'] as const;

export function channelRmsNormOp(g: GraphBuilder, x: Value, gamma: Value, opts: { silu?: boolean; name?: string } = {}): Value {
  const node = opts.name ?? 'channel-rms-norm';
  expectDtype(node, 'x', x, FLOATS);
  expectDtype(node, 'gamma', gamma, FLOATS);
  const C = x.shape[0];
  if (C === undefined || C < 1) throw new GraphError(`${node}: input ${shapeString(x.shape)} has no channel axis`);
  if (numelOf(gamma.shape) !== C) throw new GraphError(`${node}: gamma ${shapeString(gamma.shape)} does not have ${C} values`);
  const S = numelOf(x.shape) / C;
  const spec: ChannelRmsNormSpec = { C, S, dtype: x.dtype, outDtype: x.dtype, gamma: gamma.dtype, silu: opts.silu };
  const fused = channelRmsNormFusable(spec);
  const [y] = g.addNode({
    name: opts.name,
    family: 'channel-rms-norm',
    inputs: [x, gamma],
    outputs: fused ? [{ shape: x.shape, dtype: x.dtype }] : [{ shape: x.shape, dtype: x.dtype }, { shape: [S], dtype: 'f32' }],
    flops: (opts.silu ? 8 : 4) * C * S,
    lower: ([xv, gv], [out, inv]) =>
      fused
        ? [{ program: channelRmsNormProgram(spec), bindings: [xv!, gv!, out!], uniforms: channelRmsNormUniforms(spec, 'fused') }]
        : [
            { program: channelRmsStatsProgram(spec), bindings: [xv!, inv!], uniforms: channelRmsNormUniforms(spec, 'stats') },
            { program: channelRmsApplyProgram(spec), bindings: [xv!, inv!, gv!, out!], uniforms: channelRmsNormUniforms(spec, 'apply') },
          ],
  });
  return y!;
}
