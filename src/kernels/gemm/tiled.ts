// GEMM for GPUs: 16 x 16 threads compute a (16 tm) x (16 tn) block; k-slices of X and W of
// depth bk are staged through workgroup memory (stored k-major so the inner loop reads
// contiguous rows), each thread accumulating a tm x tn register tile. Thread (tx, ty) owns
// rows ty * tm + i and the consecutive columns tx * tn + j, so packed 16-bit outputs are
// written as whole words.

import type { KernelProgram } from '../../runtime/program.ts';
import { WGSL_HALF_BITS } from '../shared/wgsl-half.ts';
import {
  allLoaderFns,
  checkSpec,
  epilogueFns,
  gemmBindings,
  gemmSizeValues,
  gemmUniforms,
  maskedQuadLoaderFn,
  specKey,
  storeTile,
  variantKey,
  type GemmSpec,
  type Segment,
  extraSegment,
  mainSegment,
} from './common.ts';

const T = 16; // threads per side
const THREADS = T * T;


export function tiledGemmProgram(s: GemmSpec): KernelProgram {
  const v = s.variant;
  if (v.kind !== 'tiled') throw new Error('tiledGemmProgram: not a tiled variant');
  checkSpec(s);
  const { tm, tn, bk } = v;
  if (bk % 4 !== 0) throw new Error(`gemm tiled variant: bk ${bk} is not a multiple of 4`);
  if (s.yDtype !== 'f32' && tn % 2 !== 0) throw new Error('gemm tiled variant: packed outputs need an even tn');
  const BM = T * tm;
  const BN = T * tn;
  const tilesM = Math.ceil(s.M / BM);
  const tilesN = Math.ceil(s.N / BN);
  const tiles = tilesM * tilesN;
  const fitM = s.M % BM === 0;
  const fitN = s.N % BN === 0;
  const kq = bk / 4; // vec4 quads per tile row

  const fns: string[] = [];
  const L: string[] = [];
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) L.push(`var a${i}_${j} = 0.0;`);

  const segment = (g: Segment, tag: string) => {
    const fitK = g.K % bk === 0;
    // Masked quad loaders for the last k-slice: zeros past K on both operands.
    for (const name of [g.x, g.w]) {
      if (!fitK) fns.push(maskedQuadLoaderFn(name, g.K));
    }
    const load = (name: string, rows: number, rowsTotal: string, base: string, ld: number, bs: number, off: string, dst: string, fitRows: boolean) => {
      const quads = rows * kq;
      const S: string[] = [];
      for (let q = 0; q < Math.ceil(quads / THREADS); q++) {
        const idx = `lid + ${q * THREADS}u`;
        const inner: string[] = [];
        inner.push(`let qi = ${idx};`);
        inner.push(`let row = qi / ${kq}u;`);
        inner.push(`let kk = (qi % ${kq}u) * 4u;`);
        const grow = fitRows ? `${base} + row` : `min(${base} + row, ${rowsTotal} - 1u)`;
        const e = `${off} + b * ${bs}u + (${grow}) * ${ld}u + k0 + kk`;
        inner.push(`let v = ${fitK ? `ld_${name}4(${e})` : `lm_${name}(${e}, k0 + kk)`};`);
        for (let c = 0; c < 4; c++) inner.push(`${dst}[(kk + ${c}u) * ${rows}u + row] = v[${c}];`);
        const body = inner.join(' ');
        S.push((q + 1) * THREADS > quads ? `if (${idx} < ${quads}u) { ${body} }` : `{ ${body} }`);
      }
      return S.join('\n    ');
    };
    const compute: string[] = [];
    for (let kk = 0; kk < bk; kk++) {
      for (let i = 0; i < tm; i++) compute.push(`let x${kk}_${i} = xs[${kk * BM}u + ty * ${tm}u + ${i}u];`);
      for (let j = 0; j < tn; j++) compute.push(`let w${kk}_${j} = ws[${kk * BN}u + tx * ${tn}u + ${j}u];`);
      for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) compute.push(`a${i}_${j} += x${kk}_${i} * w${kk}_${j};`);
    }
    L.push(`for (var k0 = 0u; k0 < ${g.K}u; k0 += ${bk}u) {
    ${load(g.x, BM, 'params.M', 'm0', g.xLd, g.xBs, g.xOff, 'xs', fitM)}
    ${load(g.w, BN, `${s.N}u`, 'n0', g.wLd, g.wBs, g.wOff, 'ws', fitN)}
    workgroupBarrier();
    ${compute.join('\n    ')}
    workgroupBarrier();
  }`);
    void tag;
  };

  segment(mainSegment(s), 'm');
  if (s.extraK) {
    const e = s.extraK;
    segment(extraSegment(e), 'e');
  }

  const accs = Array.from({ length: tm }, (_, i) => Array.from({ length: tn }, (_, j) => `a${i}_${j}`));
  L.push(storeTile(s, accs, `m0 + ty * ${tm}u`, 1, `n0 + tx * ${tn}u`, fitM, fitN));

  const fit = `fit${fitM ? 'M' : ''}${fitN ? 'N' : ''}${s.K % bk === 0 ? 'K' : ''}`;
  const wgsl = `${s.yDtype === 'f32' ? '' : WGSL_HALF_BITS}
${allLoaderFns(s)}
${fns.join('\n')}
${epilogueFns(s)}
var<workgroup> xs: array<f32, ${bk * BM}>;
var<workgroup> ws: array<f32, ${bk * BN}>;
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let b = wg / params.tiles;
  let t = wg % params.tiles;
  let n0 = (t % ${tilesN}u) * ${BN}u;
  let m0 = (t / ${tilesN}u) * ${BM}u;
  let tx = lid % ${T}u;
  let ty = lid / ${T}u;
  ${L.join('\n  ')}
}`;
  return {
    name: 'gemm',
    key: `gemm:${variantKey(v)}:${specKey(s, fit)}`,
    wgsl,
    workgroupSize: [T, T, 1],
    bindings: gemmBindings(s),
    uniforms: gemmUniforms(s),
    uniformValues: gemmSizeValues(s, tiles),
    dispatch: s.batch * tiles,
  };
}
