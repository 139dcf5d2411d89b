// Convolution as an implicit GEMM for CPU adapters WITHOUT subgroups (the lavapipe path
// with subgroups is conv-chanlanes.ts, about 2-4x faster): no workgroup memory, no barriers.
// Each thread owns a register tile of TM output channels x TW consecutive output columns of
// one output row. A workgroup shares one block of output channels and one output frame, so
// the frame source (zero padding, cache, x) is a uniform branch. The input row segment a
// thread needs, (TW-1)*sw + kw values, is loaded once per (channel, kt, kh) tap and reused
// by all kw taps and TM channels; when the row alignment allows, as aligned vec4 chunks.
// Frame, row and column counts are uniforms (one pipeline for every clip size); the grid
// carries channel block, thread block and frame, so only the per-thread split into row and
// column divides by a run-time size, once.
// (Weights are read at workgroup-uniform addresses, but lavapipe 25 still loads them lane
// by lane, so they cost as much as the input.)

import type { KernelProgram } from '../../runtime/program.ts';
import { CONV_UNIFORMS, checkConvSpec, convBindings, convShapeKey, frameLoopOpen, inputLoad, weightLayout, weightReader, type ConvShapeSpec } from './common.ts';

export interface ConvRegTileParams {
  kind: 'regtile';
  /** Output channels per thread. */
  tm: number;
  /** Consecutive output columns per thread. */
  tw: number;
  /** Threads per workgroup. */
  threads: number;
  /** Read input rows as aligned vec4 chunks when the shape allows. */
  vec4: boolean;
}

export const DEFAULT_REGTILE: ConvRegTileParams = { kind: 'regtile', tm: 8, tw: 8, threads: 64, vec4: true };

const u = (n: number): string => `${n}u`;
const SWZ = ['x', 'y', 'z', 'w'];

/** Whether the input rows can be read as aligned vec4 chunks. */
function canUseVec4(s: ConvShapeSpec, t: ConvRegTileParams): boolean {
  return t.vec4 && s.inW % 4 === 0 && (t.tw * s.stride[2]) % 4 === 0;
}

export function convRegTileProgram(s: ConvShapeSpec, t: ConvRegTileParams): KernelProgram {
  const g = checkConvSpec(s);
  const { tm, tw, threads } = t;
  if (!(tm >= 1 && tw >= 1 && threads >= 1)) throw new Error(`conv regtile: bad tile ${JSON.stringify(t)}`);
  const [kt, kh, kw] = s.kernel;
  const [st, sh, sw] = s.stride;
  const vec4 = canUseVec4(s, t);
  const nwb = Math.ceil(g.outW / tw);
  const perFrame = g.outH * nwb;
  const sb = Math.ceil(perFrame / threads);
  const mb = Math.ceil(s.cout / tm);
  const kvol = kt * kh * kw;
  const nj = (tw - 1) * sw + kw; // input columns one thread reads per row
  const div = vec4 ? 4 : 1; // element -> load-unit divisor
  // vec4 chunks: the first column wo0*sw - left starts at offset `o` inside its chunk.
  const o = (((-s.pad.left) % 4) + 4) % 4;
  const chunkShift = Math.floor(-s.pad.left / 4);
  const nChunks = Math.ceil((o + nj) / 4);

  const L: string[] = [];
  const emit = (line: string) => L.push(line);

  // Prologue: per-thread row and column indices (clamped) with their validity.
  emit(`  let hi = i32(ho * ${u(sh)}) - ${s.pad.top};`);
  for (let dh = 0; dh < kh; dh++) {
    emit(`  let rOk${dh} = u32(hi + ${dh}) < params.inH;`);
    emit(`  let rIdx${dh} = u32(clamp(hi + ${dh}, 0, i32(params.inH) - 1)) * inWd;`);
  }
  if (vec4) {
    emit(`  let c0 = i32(wo0 * ${u(sw)} / 4u) + ${chunkShift};`);
    for (let q = 0; q < nChunks; q++) {
      emit(`  let cOk${q} = u32(c0 + ${q}) < inWd;`);
      emit(`  let cIdx${q} = u32(clamp(c0 + ${q}, 0, i32(inWd) - 1));`);
    }
  } else {
    emit(`  let wi = i32(wo0 * ${u(sw)}) - ${s.pad.left};`);
    for (let j = 0; j < nj; j++) {
      emit(`  let cOk${j} = u32(wi + ${j}) < params.inW;`);
      emit(`  let cIdx${j} = u32(clamp(wi + ${j}, 0, i32(params.inW) - 1));`);
    }
  }
  const wl = weightLayout(s);
  for (let m = 0; m < tm; m++) emit(`  let wr${m} = min(mb * ${u(tm)} + ${u(m)}, ${u(s.cout - 1)}) * ${u(wl.rowStride)} + ${u(wl.base)};`);
  for (let m = 0; m < tm; m++) for (let c = 0; c < tw; c++) emit(`  var a${m}_${c} = 0.0;`);

  // The reduction over input channels for one tap frame, reading `src` at channel stride `cs`.
  const body = (): string[] => {
    const B: string[] = [];
    B.push(`      for (var ci = 0u; ci < params.cin; ci++) {`);
    B.push(`        let base = ci * cs + fb;`);
    B.push(`        let wk = ci * ${u(kvol)} + dt * ${u(kh * kw)};`);
    for (let dh = 0; dh < kh; dh++) {
      B.push(`        {`);
      B.push(`          let rb = base + rIdx${dh};`);
      if (vec4) {
        for (let q = 0; q < nChunks; q++) {
          B.push(`          ${inputLoad(s, `q${q}`, 'vec4<f32>', `rb + cIdx${q}`, `rOk${dh} && cOk${q}`)}`);
        }
        for (let j = 0; j < nj; j++) B.push(`          let v${j} = q${(o + j) >> 2}.${SWZ[(o + j) & 3]};`);
      } else {
        for (let j = 0; j < nj; j++) B.push(`          ${inputLoad(s, `v${j}`, 'f32', `rb + cIdx${j}`, `rOk${dh} && cOk${j}`)}`);
      }
      for (let dw = 0; dw < kw; dw++) {
        for (let m = 0; m < tm; m++) {
          B.push(`          let w${m}_${dw} = wAt(wr${m} + wk + ${u(dh * kw + dw)});`);
          for (let c = 0; c < tw; c++) B.push(`          a${m}_${c} += w${m}_${dw} * v${c * sw + dw};`);
        }
      }
      B.push(`        }`);
    }
    B.push(`      }`);
    return B;
  };

  L.push(...frameLoopOpen(s, g, div));
  L.push(...body());
  emit(`  }`);

  // Epilogue: bias, residual, store what lies inside the output.
  emit(`  if (!live) { return; }`);
  emit(`  let ohw = params.outH * params.outW;`);
  // Columns past the row's end go, without branches, to its last column (this thread's
  // too), stored in reverse order so the right value lands there last.
  emit(`  let wLast = params.outW - 1u;`);
  for (let m = 0; m < tm; m++) {
    const coGuard = s.cout % tm !== 0;
    emit(`  {`);
    emit(`    let co = mb * ${u(tm)} + ${u(m)};`);
    if (coGuard) emit(`    if (co < ${u(s.cout)}) {`);
    emit(`    let om = co * (params.outF * ohw) + fo * ohw + ho * params.outW;`);
    emit(`    let b = ${s.bias ? 'bias[co]' : '0.0'};`);
    for (let c = tw - 1; c >= 0; c--) {
      emit(`    { let o = om + min(wo0 + ${u(c)}, wLast); out[o] = a${m}_${c} + b${s.residual ? ' + res[o]' : ''}; }`);
    }
    if (coGuard) emit(`    }`);
    emit(`  }`);
  }

  const ioType = vec4 ? 'vec4<f32>' : 'f32';
  const bindings = convBindings(s, { input: ioType });

  const wgsl = `${weightReader(s.weight)}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // Grid (channel blocks, thread blocks of a frame, frames): no division of the workgroup
  // index by a run-time size.
  let nwb = (params.outW + ${u(tw - 1)}) / ${u(tw)};
  let perFrame = params.outH * nwb;
  let inWd = params.inW / ${u(div)};
  let mb = wid.x;
  let sb = wid.y;
  let fo = wid.z;
  let tRaw = sb * ${u(threads)} + lid;
  let live = tRaw < perFrame;
  let t = min(tRaw, perFrame - 1u);
  let ho = t / nwb;
  let wo0 = (t % nwb) * ${u(tw)};
${L.join('\n')}
}`;
  return {
    name: 'conv',
    key: `conv:regtile:tm${tm}tw${tw}t${threads}${vec4 ? 'v4' : ''}:${convShapeKey(s)}`,
    wgsl,
    workgroupSize: [threads, 1, 1],
    uniforms: CONV_UNIFORMS,
    bindings,
    dispatch: [mb, sb, g.outF],
  };
}
