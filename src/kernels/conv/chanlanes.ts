// Convolution as an implicit GEMM for CPU adapters (lavapipe) with subgroups: the lanes of a
// subgroup take different OUTPUT CHANNELS and share one TH x TW tile of output voxels.
// On lavapipe a storage load costs a bounds-checked scalar load per lane, whatever the
// address (uniform ones included), while a subgroup broadcast or shuffle is one vector
// instruction. So each lane loads only values nobody else loads: its own channel's weights,
// and a 1/SG share of the input window the tile reads (its (TH-1)*sh+kh rows by
// (TW-1)*sw+kw columns, zero padding and the frame source applied while loading); every
// window value then reaches all lanes by subgroupBroadcast. No workgroup memory, no barriers.
// Frame, row and column counts are uniforms (one pipeline for every clip size).

import type { KernelProgram } from '../../runtime/program.ts';
import { CONV_UNIFORMS, checkConvSpec, convBindings, convShapeKey, frameLoopOpen, inputLoad, weightLayout, weightReader, type ConvShapeSpec } from './common.ts';

export interface ConvChanLanesParams {
  kind: 'chanlanes';
  /** Output channels per thread (strided by `threads`). */
  tm: number;
  /** Output rows and columns of the voxel tile a workgroup shares. */
  th: number;
  tw: number;
  /** Threads per workgroup; each subgroup of them re-reads the tile's input window. */
  threads: number;
  /** Subgroup size the window is spread over: at most the adapter's minimum subgroup size. */
  sg: number;
}

export const DEFAULT_CHANLANES: ConvChanLanesParams = { kind: 'chanlanes', tm: 1, th: 8, tw: 8, threads: 32, sg: 8 };

const u = (n: number): string => `${n}u`;

export function convChanLanesProgram(s: ConvShapeSpec, t: ConvChanLanesParams): KernelProgram {
  const g = checkConvSpec(s);
  const { tm, th, tw, threads, sg } = t;
  if (!(tm >= 1 && th >= 1 && tw >= 1 && sg >= 1 && threads >= sg && threads % sg === 0)) {
    throw new Error(`conv chanlanes: bad tile ${JSON.stringify(t)}`);
  }
  const [kt, kh, kw] = s.kernel;
  const [st, sh, sw] = s.stride;
  const perWg = tm * threads; // output channels per workgroup
  const mBlocks = Math.ceil(s.cout / perWg);
  const hBlocks = Math.ceil(g.outH / th);
  const wBlocks = Math.ceil(g.outW / tw);
  const kvol = kt * kh * kw;
  const rows = (th - 1) * sh + kh; // input window of the tile
  const cols = (tw - 1) * sw + kw;
  const win = rows * cols;
  const perLane = Math.ceil(win / sg);

  const L: string[] = [];
  const emit = (line: string) => L.push(line);
  // This lane's share of the window: element q = lane + sg * r, at window row q / cols.
  emit(`  let lane = sgid % ${u(sg)};`);
  emit(`  let hi0 = i32(hb * ${u(th * sh)}) - ${s.pad.top};`);
  emit(`  let wi0 = i32(wb * ${u(tw * sw)}) - ${s.pad.left};`);
  for (let r = 0; r < perLane; r++) {
    emit(`  let q${r} = min(lane + ${u(sg * r)}, ${u(win - 1)});`);
    emit(`  let h${r} = hi0 + i32(q${r} / ${u(cols)});`);
    emit(`  let w${r} = wi0 + i32(q${r} % ${u(cols)});`);
    emit(`  let ok${r} = u32(h${r}) < params.inH && u32(w${r}) < params.inW;`);
    emit(`  let off${r} = u32(clamp(h${r}, 0, i32(params.inH) - 1)) * params.inW + u32(clamp(w${r}, 0, i32(params.inW) - 1));`);
  }
  const wl = weightLayout(s);
  for (let m = 0; m < tm; m++) emit(`  let wr${m} = min(co0 + ${u(m * threads)}, ${u(s.cout - 1)}) * ${u(wl.rowStride)} + ${u(wl.base)};`);
  for (let m = 0; m < tm; m++) for (let i = 0; i < th; i++) for (let c = 0; c < tw; c++) emit(`  var a${m}_${i}_${c} = 0.0;`);

  const body = (): string[] => {
    const B: string[] = [];
    B.push(`      for (var ci = 0u; ci < params.cin; ci++) {`);
    B.push(`        let base = ci * cs + fb;`);
    B.push(`        let wk = ci * ${u(kvol)} + dt * ${u(kh * kw)};`);
    for (let m = 0; m < tm; m++) {
      for (let dh = 0; dh < kh; dh++) for (let dw = 0; dw < kw; dw++) B.push(`        let k${m}_${dh}_${dw} = wAt(wr${m} + wk + ${u(dh * kw + dw)});`);
    }
    for (let r = 0; r < perLane; r++) B.push(`        ${inputLoad(s, `x${r}`, 'f32', `base + off${r}`, `ok${r}`)}`);
    // Each window value, broadcast once, feeds every (output, tap) pair that reads it.
    for (let wr = 0; wr < rows; wr++) {
      for (let wc = 0; wc < cols; wc++) {
        const uses: string[] = [];
        for (let i = 0; i < th; i++) {
          const dh = wr - i * sh;
          if (dh < 0 || dh >= kh) continue;
          for (let c = 0; c < tw; c++) {
            const dw = wc - c * sw;
            if (dw < 0 || dw >= kw) continue;
            for (let m = 0; m < tm; m++) uses.push(`        a${m}_${i}_${c} += k${m}_${dh}_${dw} * v;`);
          }
        }
        if (uses.length === 0) continue;
        const q = wr * cols + wc;
        B.push(`        {`);
        B.push(`        let v = subgroupBroadcast(x${Math.floor(q / sg)}, ${u(q % sg)});`);
        B.push(...uses);
        B.push(`        }`);
      }
    }
    B.push(`      }`);
    return B;
  };

  L.push(...frameLoopOpen(s, g, 1));
  L.push(...body());
  emit(`  }`);

  // vec4 stores and residual loads (a quarter of the lane-by-lane memory instructions) need
  // rows of whole vec4s, i.e. a pipeline per output-width class. Worth it only for 1x1
  // spatial kernels (~10% there); elsewhere the epilogue is well under 1% of the work, so
  // scalar stores let one pipeline serve every width.
  const vecOut = kh === 1 && kw === 1 && g.outW % 4 === 0 && tw % 4 === 0;
  const outType = vecOut ? 'vec4<f32>' : 'f32';
  const step = vecOut ? 4 : 1;
  emit(`  let ohw = params.outH * params.outW;`);
  // Edge tiles without branches (each guard is a basic block, and dozens of them double the
  // lavapipe compile time): rows and columns past the output's end are redirected to its
  // last row or column, which this thread owns too, and stored in reverse order, so the
  // right value lands there last.
  emit(`  let hLast = params.outH - 1u;`);
  emit(`  let wLast = params.outW - ${u(step)};`);
  for (let m = 0; m < tm; m++) {
    emit(`  {`);
    emit(`    let co = co0 + ${u(m * threads)};`);
    emit(`    if (co < ${u(s.cout)}) {`);
    emit(`      let b = ${s.bias ? 'bias[co]' : '0.0'};`);
    emit(`      let oc = co * (params.outF * ohw) + fo * ohw;`);
    for (let i = th - 1; i >= 0; i--) {
      emit(`      {`);
      emit(`        let orow = oc + min(hb * ${u(th)} + ${u(i)}, hLast) * params.outW;`);
      for (let c = tw - step; c >= 0; c -= step) {
        const col = `min(wb * ${u(tw)} + ${u(c)}, wLast)`;
        const at = vecOut ? `(orow + ${col}) / 4u` : `orow + ${col}`;
        const acc = vecOut ? `vec4<f32>(${[0, 1, 2, 3].map((d) => `a${m}_${i}_${c + d}`).join(', ')})` : `a${m}_${i}_${c}`;
        emit(`        { let o = ${at}; out[o] = ${acc} + b${s.residual ? ' + res[o]' : ''}; }`);
      }
      emit(`      }`);
    }
    emit(`    }`);
    emit(`  }`);
  }

  const wgsl = `${weightReader(s.weight)}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sgid: u32) {
  // Grid (channel blocks x column blocks, row blocks, frames): no division by a run-time size.
  let mb = wid.x % ${u(mBlocks)};
  let wb = wid.x / ${u(mBlocks)};
  let hb = wid.y;
  let fo = wid.z;
  let co0 = mb * ${u(perWg)} + lid;
${L.join('\n')}
}`;
  return {
    name: 'conv',
    key: `conv:chanlanes:tm${tm}th${th}tw${tw}t${threads}sg${sg}${vecOut ? 'vo' : ''}:${convShapeKey(s)}`,
    wgsl,
    workgroupSize: [threads, 1, 1],
    uniforms: CONV_UNIFORMS,
    bindings: convBindings(s, { output: outType }),
    dispatch: [mBlocks * wBlocks, hBlocks, g.outF],
    enables: ['subgroups'],
  };
}
