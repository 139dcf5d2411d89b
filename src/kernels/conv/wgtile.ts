// Convolution as an implicit GEMM for GPUs: the usual workgroup-memory tiling. M = Cout,
// N = output voxels, K = Cin*kt*kh*kw. Per K step the workgroup stages a BM x BK weight tile
// and a BK x BN input tile (gathered through index math from x, the cache or zero padding;
// no im2col buffer) in workgroup memory; each of the 256 threads accumulates a
// (BM/16) x (BN/16) register tile, rows and columns strided by 16 so neighbouring threads
// touch neighbouring addresses. Frame, row and column counts are uniforms (one pipeline for
// every clip size).

import type { KernelProgram } from '../../runtime/program.ts';
import { CONV_UNIFORMS, checkConvSpec, convBindings, convShapeKey, weightLayout, weightReader, type ConvShapeSpec } from './common.ts';

export interface ConvWgTileParams {
  kind: 'wgtile';
  /** Output channels per workgroup (multiple of 16). */
  bm: number;
  /** Output voxels per workgroup (multiple of 16). */
  bn: number;
  /** Reduction slice staged per step (BM*BK and BK*BN multiples of 256). */
  bk: number;
}

export const DEFAULT_WGTILE: ConvWgTileParams = { kind: 'wgtile', bm: 64, bn: 64, bk: 16 };

const THREADS = 256;
const u = (n: number): string => `${n}u`;

export function convWgTileProgram(s: ConvShapeSpec, t: ConvWgTileParams): KernelProgram {
  const g = checkConvSpec(s);
  const { bm, bn, bk } = t;
  if (bm % 16 || bn % 16 || THREADS % bm || THREADS % bn || (bm * bk) % THREADS || bk % (THREADS / bn)) {
    throw new Error(`conv wgtile: tile ${bm}x${bn}x${bk} does not fit ${THREADS} threads`);
  }
  const [kt, kh, kw] = s.kernel;
  const [st, sh, sw] = s.stride;
  const tm = bm / 16;
  const tn = bn / 16;
  const n = g.outF * g.outH * g.outW; // for the dispatch; the shader has it as nTot
  const K = g.k;
  const kvol = kt * kh * kw;
  const wl = weightLayout(s);
  const mBlocks = Math.ceil(s.cout / bm);
  const nBlocks = Math.ceil(n / bn);
  const aPer = (bm * bk) / THREADS; // weight elements staged per thread (consecutive k)
  const bRows = THREADS / bn; // k rows staged per pass over the BN columns
  const bPer = bk / bRows;

  const stageA: string[] = [];
  for (let i = 0; i < aPer; i++) {
    stageA.push(`    { let k = k0 + ak + ${u(i)}; As[(ak + ${u(i)}) * ${u(bm)} + am] = select(0.0, wAt(aRow + min(k, ${u(K - 1)})), aOk && k < ${u(K)}); }`);
  }
  const stageB: string[] = [];
  for (let i = 0; i < bPer; i++) {
    stageB.push(`    { let kr = bk0 + ${u(i * bRows)}; Bs[kr * ${u(bn)} + bn_] = gatherX(k0 + kr, fo, hiB, wiB, nOk); }`);
  }
  const acc: string[] = [];
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) acc.push(`  var c${i}_${j} = 0.0;`);
  const fmas: string[] = [];
  for (let i = 0; i < tm; i++) fmas.push(`      let a${i} = As[kk * ${u(bm)} + ty + ${u(16 * i)}];`);
  for (let j = 0; j < tn; j++) fmas.push(`      let b${j} = Bs[kk * ${u(bn)} + tx + ${u(16 * j)}];`);
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) fmas.push(`      c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
  const stores: string[] = [];
  for (let i = 0; i < tm; i++) {
    stores.push(`  { let co = m0 + ty + ${u(16 * i)};`);
    stores.push(`    if (co < ${u(s.cout)}) {`);
    stores.push(`      let b = ${s.bias ? 'bias[co]' : '0.0'};`);
    for (let j = 0; j < tn; j++) {
      const val = `c${i}_${j} + b${s.residual ? ' + res[o]' : ''}`;
      stores.push(`      { let nn = n0 + tx + ${u(16 * j)}; if (nn < nTot) { let o = co * nTot + nn; out[o] = ${val}; } }`);
    }
    stores.push(`    }`);
    stores.push(`  }`);
  }

  const cacheRead =
    s.cacheFrames > 0
      ? `if (p < ${u(g.frontTotal)}) { return cache[(ci * params.cacheTotal + p + params.cacheTotal - ${u(s.cacheFrames + g.zeroFront)}) * hw + sp]; }`
      : '';
  const wgsl = `${weightReader(s.weight)}
var<workgroup> As: array<f32, ${bm * bk}>;
var<workgroup> Bs: array<f32, ${bk * bn}>;

// Element (k, voxel) of the virtual im2col matrix: zero padding, cached frame or x.
fn gatherX(k: u32, fo: u32, hi0: i32, wi0: i32, nOk: bool) -> f32 {
  let ci = k / ${u(kvol)};
  let r = k % ${u(kvol)};
  let dt = r / ${u(kh * kw)};
  let dh = (r / ${u(kw)}) % ${u(kh)};
  let dw = r % ${u(kw)};
  let p = fo * ${u(st)} + dt;
  let hi = hi0 + i32(dh);
  let wi = wi0 + i32(dw);
  if (!nOk || k >= ${u(K)} || p < ${u(g.zeroFront)} || u32(hi) >= params.inH || u32(wi) >= params.inW) { return 0.0; }
  let sp = u32(hi) * params.inW + u32(wi);
  let hw = params.inH * params.inW;
  ${cacheRead}
  return x[(ci * params.inF + p - ${u(g.frontTotal)}) * hw + sp];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let m0 = (wg % ${u(mBlocks)}) * ${u(bm)};
  let n0 = (wg / ${u(mBlocks)}) * ${u(bn)};
  let tx = lid % 16u;
  let ty = lid / 16u;
  // Weight staging: row am, ${aPer} consecutive k from ak.
  let am = lid / ${u(bk / aPer)};
  let ak = (lid % ${u(bk / aPer)}) * ${u(aPer)};
  let aOk = m0 + am < ${u(s.cout)};
  let aRow = min(m0 + am, ${u(s.cout - 1)}) * ${u(wl.rowStride)} + ${u(wl.base)};
  // Input staging: column bn_ (one output voxel), k rows bk0, bk0 + ${bRows}, ...
  let bn_ = lid % ${u(bn)};
  let bk0 = lid / ${u(bn)};
  let nv = n0 + bn_;
  let nTot = params.outF * params.outH * params.outW;
  let nOk = nv < nTot;
  let nc = min(nv, nTot - 1u);
  let fo = nc / (params.outH * params.outW);
  let hoB = (nc / params.outW) % params.outH;
  let woB = nc % params.outW;
  let hiB = i32(hoB * ${u(sh)}) - ${s.pad.top};
  let wiB = i32(woB * ${u(sw)}) - ${s.pad.left};
${acc.join('\n')}
  for (var k0 = 0u; k0 < ${u(K)}; k0 += ${u(bk)}) {
${stageA.join('\n')}
${stageB.join('\n')}
    workgroupBarrier();
    for (var kk = 0u; kk < ${u(bk)}; kk++) {
${fmas.join('\n')}
    }
    workgroupBarrier();
  }
${stores.join('\n')}
}`;

  return {
    name: 'conv',
    key: `conv:wgtile:${bm}x${bn}x${bk}:${convShapeKey(s)}`,
    wgsl,
    workgroupSize: [THREADS, 1, 1],
    uniforms: CONV_UNIFORMS,
    bindings: convBindings(s),
    dispatch: mBlocks * nBlocks,
  };
}
