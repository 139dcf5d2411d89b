// GEMM for CPUs running WebGPU in SIMD lanes (lavapipe): one subgroup per workgroup owns a
// tm x (sg * rn) output tile. Each lane loads tm/sg rows of X and its own rn rows of W as vec4
// along K; the X rows are shared with subgroupBroadcast, so every loaded value feeds many
// FMAs. No workgroup memory and no barriers (on lavapipe workgroup memory is no faster than
// storage, and storage loads are done lane by lane, so loads are what must be saved).
// Accumulators are named scalars unrolled in the source; lane l owns the rn consecutive
// columns n0 + l * rn + j, so packed 16-bit outputs are stored as whole words.

import type { KernelProgram } from '../../runtime/program.ts';
import { isBlockQuant, type BlockQuantDType } from '../../runtime/dtype.ts';
import { BLOCK_SUB_ELEMENTS, blockContext, blockQuad } from './quant-blocks.ts';
import { WGSL_HALF_BITS } from '../shared/wgsl-half.ts';
import {
  allLoaderFns,
  checkSpec,
  epilogueFns,
  gemmBindings,
  gemmSizeValues,
  gemmUniforms,
  specKey,
  storeTile,
  variantKey,
  type GemmSpec,
  type Segment,
  extraSegment,
  mainSegment,
} from './common.ts';


export function subgroupGemmProgram(s: GemmSpec): KernelProgram {
  const v = s.variant;
  if (v.kind !== 'subgroup') throw new Error('subgroupGemmProgram: not a subgroup variant');
  checkSpec(s);
  const { sg, tm, rn } = v;
  if (tm % sg !== 0) throw new Error(`gemm subgroup variant: tm ${tm} is not a multiple of the subgroup size ${sg}`);
  if (s.yDtype !== 'f32' && rn % 2 !== 0) throw new Error('gemm subgroup variant: packed outputs need an even rn');
  const tn = sg * rn;
  const rowsPerLane = tm / sg;
  const tilesM = Math.ceil(s.M / tm);
  const tilesN = Math.ceil(s.N / tn);
  const tiles = tilesM * tilesN;
  const fitM = s.M % tm === 0;
  const fitN = s.N % tn === 0;

  const L: string[] = [];
  for (let r = 0; r < tm; r++) for (let j = 0; j < rn; j++) L.push(`var a${r}_${j} = 0.0;`);

  // Row bases are clamped into range, so edge tiles load valid (discarded) rows and the loop
  // has no branches.
  const rowBases = (g: Segment, tag: string) => {
    for (let i = 0; i < rowsPerLane; i++) {
      const row = fitM ? `m0 + lane + ${sg * i}u` : `min(m0 + lane + ${sg * i}u, params.M - 1u)`;
      L.push(`let ${tag}x${i} = ${g.xOff} + b * ${g.xBs}u + (${row}) * ${g.xLd}u;`);
    }
    for (let j = 0; j < rn; j++) {
      const row = fitN ? `n0 + lane * ${rn}u + ${j}u` : `min(n0 + lane * ${rn}u + ${j}u, ${s.N - 1}u)`;
      L.push(`let ${tag}w${j} = ${g.wOff} + b * ${g.wBs}u + (${row}) * ${g.wLd}u;`);
    }
  };
  const loads = (g: Segment, tag: string, ld: '1' | '4', k: string, declare: boolean) => {
    const S: string[] = [];
    const kw = declare ? 'let ' : '';
    for (let i = 0; i < rowsPerLane; i++) S.push(`${kw}xl${i} = ld_${g.x}${ld}(${tag}x${i} + ${k});`);
    for (let j = 0; j < rn; j++) S.push(`${kw}w${j} = ld_${g.w}${ld}(${tag}w${j} + ${k});`);
    return S;
  };
  // X rows are broadcast from the lane that loaded them; every lane multiplies them with its
  // own W rows.
  const fmas = (scalar: boolean) => {
    const S: string[] = [];
    for (let r = 0; r < tm; r++) {
      S.push(`let x${r} = subgroupBroadcast(xl${Math.floor(r / sg)}, ${r % sg}u);`);
      for (let j = 0; j < rn; j++) {
        S.push(scalar ? `a${r}_${j} += x${r} * w${j};` : `a${r}_${j} += x${r}.x * w${j}.x + x${r}.y * w${j}.y + x${r}.z * w${j}.z + x${r}.w * w${j}.w;`);
      }
    }
    return S;
  };
  const block = (lines: string[]) => lines.join('\n    ');
  // GGML blocks: K in sub-blocks (whole blocks per row, checkSpec); each of the lane's W rows
  // decodes its sub-block's scales once, then every quad of it from whole words.
  const blockSegment = (g: Segment, tag: string, t: BlockQuantDType) => {
    const step = BLOCK_SUB_ELEMENTS[t];
    const ctx = Array.from({ length: rn }, (_, j) => `let c${j} = ${blockContext(g.w, `${tag}w${j} + kb`)};`);
    const quads = [
      ...Array.from({ length: rowsPerLane }, (_, i) => `let xl${i} = ld_${g.x}4(${tag}x${i} + k);`),
      ...Array.from({ length: rn }, (_, j) => `let w${j} = ${blockQuad(t, g.w, `c${j}`, `${tag}w${j} + k`)};`),
    ];
    return `for (var kb = 0u; kb < ${g.K}u; kb += ${step}u) {
    ${block(ctx)}
    for (var k = kb; k < kb + ${step}u; k += 4u) {
      ${[...quads, ...fmas(false)].join('\n      ')}
    }
  }`;
  };
  const segment = (g: Segment, tag: string) => {
    const k4 = Math.floor(g.K / 4) * 4;
    if (g.w === 'W' && isBlockQuant(s.wDtype)) {
      L.push(blockSegment(g, tag, s.wDtype));
      return;
    }
    if (k4 > 0) L.push(`for (var k = 0u; k < ${k4}u; k += 4u) {\n    ${block([...loads(g, tag, '4', 'k', true), ...fmas(false)])}\n  }`);
    // K tail, one k at a time: a scalar step is a quarter of the code of a vec4 step.
    if (g.K % 4 !== 0) L.push(`for (var k = ${k4}u; k < ${g.K}u; k++) {\n    ${block([...loads(g, tag, '1', 'k', true), ...fmas(true)])}\n  }`);
  };

  const main: Segment = mainSegment(s);
  rowBases(main, 'm');
  const e = s.extraK;
  if (!e) {
    segment(main, 'm');
  } else {
    const extra: Segment = extraSegment(e);
    rowBases(extra, 'e');
    if (s.K % 4 === 0 && e.K % 4 === 0) {
      // One loop over K + r: only the loads depend on the segment (a uniform branch), the
      // unrolled FMA block is emitted once. Two loops cost ~10% more at K = 1024, r = 64
      // (twice the code of the hot loop).
      const decl = [...Array.from({ length: rowsPerLane }, (_, i) => `var xl${i}: vec4<f32>;`), ...Array.from({ length: rn }, (_, j) => `var w${j}: vec4<f32>;`)];
      L.push(`for (var k = 0u; k < ${s.K + e.K}u; k += 4u) {
    ${block(decl)}
    if (k < ${s.K}u) {
      ${loads(main, 'm', '4', 'k', false).join('\n      ')}
    } else {
      let q = k - ${s.K}u;
      ${loads(extra, 'e', '4', 'q', false).join('\n      ')}
    }
    ${block(fmas(false))}
  }`);
    } else {
      segment(main, 'm');
      segment(extra, 'e');
    }
  }

  const accs = Array.from({ length: tm }, (_, r) => Array.from({ length: rn }, (_, j) => `a${r}_${j}`));
  L.push(storeTile(s, accs, 'm0', 1, `n0 + lane * ${rn}u`, fitM, fitN));

  const fit = `fit${fitM ? 'M' : ''}${fitN ? 'N' : ''}`;
  const wgsl = `${s.yDtype === 'f32' ? '' : WGSL_HALF_BITS}
${allLoaderFns(s)}
${epilogueFns(s)}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let b = wg / params.tiles;
  let t = wg % params.tiles;
  let n0 = (t % ${tilesN}u) * ${tn}u;
  let m0 = (t / ${tilesN}u) * ${tm}u;
  ${L.join('\n  ')}
}`;
  return {
    name: 'gemm',
    key: `gemm:${variantKey(v)}:${specKey(s, fit)}`,
    wgsl,
    workgroupSize: [sg, 1, 1],
    bindings: gemmBindings(s),
    uniforms: gemmUniforms(s),
    uniformValues: gemmSizeValues(s, tiles),
    dispatch: s.batch * tiles,
    enables: ['subgroups'],
  };
}
