// GEMM on subgroup matrices (tensor cores / simdgroup matrices), written once against
// SubgroupMatrixWgsl so the same kernel runs emulated on any adapter (tests) and with the
// builtins where the adapter offers a config. A workgroup of gm x gn subgroups computes a
// BM x BN tile; each subgroup owns sm x sn result matrices. Per k-slice, all invocations stage
// X [BM, kb] and W [BN, kb] into workgroup memory converted to the config's component type
// (f16 usually: X is rounded too, so with f16 components this is a 16-bit-precision variant),
// zero past M, N and K, so matrix loads never leave the staged tile. W is stored as loaded,
// [n][k], which is W^T in column-major order: the right matrix is loaded col_major.
// After the K loop each result matrix goes through workgroup memory and every invocation runs
// the shared fused epilogue and stores (gemm-common.ts) on its share of the elements.

import type { KernelProgram } from '../../runtime/program.ts';
import { WGSL_HALF_BITS } from '../shared/wgsl-half.ts';
import { OPAQUE_ZERO, SubgroupMatrixWgsl } from '../shared/subgroup-matrix.ts';
import {
  allLoaderFns,
  checkSpec,
  epilogueFns,
  extraSegment,
  gemmBindings,
  gemmSizeValues,
  gemmUniforms,
  mainSegment,
  maskedQuadLoaderFn,
  specKey,
  storeTile,
  variantKey,
  type GemmSpec,
  type Segment,
  type SgmatrixVariant,
} from './common.ts';

/** Workgroup tile of the variant. */
export function sgmatrixTile(v: SgmatrixVariant): { bm: number; bn: number } {
  return { bm: v.gm * v.sm * v.cfg.M, bn: v.gn * v.sn * v.cfg.N };
}

/** Staged rows are padded by 16 bytes: rows stay 16-byte aligned and do not share banks. */
function stagedStride(v: SgmatrixVariant): number {
  return v.bk + (v.cfg.component === 'f16' ? 8 : 4);
}

/** Workgroup memory the kernel declares (the portable limit is 16 KiB). */
export function sgmatrixWorkgroupBytes(v: SgmatrixVariant): number {
  const { bm, bn } = sgmatrixTile(v);
  const c = v.cfg.component === 'f16' ? 2 : 4;
  const r = v.cfg.result === 'f16' ? 2 : 4;
  return (bm + bn) * stagedStride(v) * c + v.gm * v.gn * v.cfg.M * v.cfg.N * r;
}

function roundUp(v: number, m: number): number {
  return Math.ceil(v / m) * m;
}

export function sgmatrixGemmProgram(s: GemmSpec): KernelProgram {
  const v = s.variant;
  if (v.kind !== 'sgmatrix') throw new Error('sgmatrixGemmProgram: not a subgroup-matrix variant');
  checkSpec(s);
  const { cfg, sg, gm, gn, sm, sn, bk } = v;
  for (const [k, n] of Object.entries({ sg, gm, gn, sm, sn, bk })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`gemm sgmatrix variant: ${k} = ${n} must be a positive integer`);
  }
  if (bk % cfg.K !== 0 || bk % 4 !== 0) throw new Error(`gemm sgmatrix variant: bk ${bk} must be a multiple of 4 and of the config's K ${cfg.K}`);
  if (s.yDtype !== 'f32' && cfg.N % 2 !== 0) throw new Error('gemm sgmatrix variant: packed outputs need an even config N');
  const emulate = v.emulate === true;
  const sgm = new SubgroupMatrixWgsl(cfg, { emulate, lanes: sg });
  // Emulated, the slice loops are kept rolled too (see OPAQUE_ZERO).
  const opaque = emulate ? ` + ${OPAQUE_ZERO}` : '';
  const { bm: BM, bn: BN } = sgmatrixTile(v);
  const subgroups = gm * gn;
  const threads = subgroups * sg;
  const LD = stagedStride(v);
  const MN = cfg.M * cfg.N;
  const C = cfg.component;
  const tilesM = Math.ceil(s.M / BM);
  const tilesN = Math.ceil(s.N / BN);
  const tiles = tilesM * tilesN;
  const fitM = s.M % BM === 0;
  const fitN = s.N % BN === 0;
  const xsArr = { name: 'xs', elem: C };
  const wsArr = { name: 'ws', elem: C };
  const csArr = { name: 'cs', elem: cfg.result };

  const fns: string[] = [];
  const L: string[] = [];
  // Accumulators are named variables and the tile loops are unrolled: emulated, arrays of
  // matrices walked by loops compiled several times slower on lavapipe than call sites.
  const acc = (i: number, j: number) => `acc${i}_${j}`;
  for (let i = 0; i < sm; i++) for (let j = 0; j < sn; j++) L.push(`var ${acc(i, j)} = ${sgm.zero()};`);
  // Subgroup-uniform bases of this subgroup's block in the staged tiles.
  L.push(`let sgi = ${sgm.subgroupIndex('lid')};`);
  L.push(`let xBase = (sgi / ${gn}u) * ${sm * cfg.M * LD}u;`);
  L.push(`let wBase = (sgi % ${gn}u) * ${sn * cfg.N * LD}u;`);

  // The K segments (X W^T, then the LoRA T B^T) run as one loop over their k-slices: only the
  // staging depends on the segment, the matrix code is emitted once.
  const segs = [mainSegment(s), ...(s.extraK ? [extraSegment(s.extraK)] : [])].map((g) => {
    // A short segment (the LoRA rank) gets a shallower slice instead of a slice of zeros.
    const kb = Math.min(bk, roundUp(g.K, cfg.K));
    return { g, kb, slices: Math.ceil(g.K / kb), fitK: g.K % kb === 0 };
  });
  const stageSegment = ({ g, kb, fitK }: (typeof segs)[number], slice: string): string => {
    if (!fitK) fns.push(maskedQuadLoaderFn(g.x, g.K), maskedQuadLoaderFn(g.w, g.K));
    const kq = kb / 4;
    const stage = (name: string, rows: number, rowsTotal: string, base: string, ld: number, bs: number, off: string, dst: string, fitRows: boolean) => {
      const e = `${off} + b * ${bs}u + gr * ${ld}u + k0 + kk`;
      const load = fitK ? `ld_${name}4(${e})` : `lm_${name}(${e}, k0 + kk)`;
      // f16 saturates instead of overflowing: a rare activation past 65504 then costs its own
      // accuracy, not an inf (and NaNs) in its whole output row.
      const conv = (c: string) => (C === 'f16' ? `f16(clamp(v.${c}, -65504.0, 65504.0))` : `v.${c}`);
      const stores = ['x', 'y', 'z', 'w'].map((c, i) => `${dst}[d + ${i}u] = ${conv(c)};`).join(' ');
      return `for (var q = lid; q < ${rows * kq}u; q += ${threads}u) {
        let row = q / ${kq}u;
        let kk = (q % ${kq}u) * 4u;
        let gr = ${base} + row;
        ${fitRows ? `let v = ${load};` : `var v = vec4<f32>(0.0);\n        if (gr < ${rowsTotal}) { v = ${load}; }`}
        let d = row * ${LD}u + kk;
        ${stores}
      }`;
    };
    return `let k0 = (${slice}) * ${kb}u;
      ${stage(g.x, BM, 'params.M', 'm0', g.xLd, g.xBs, g.xOff, 'xs', fitM)}
      ${stage(g.w, BN, `${s.N}u`, 'n0', g.wLd, g.wBs, g.wOff, 'ws', fitN)}`;
  };
  const [s0, s1] = segs;
  const slices = s0!.slices + (s1?.slices ?? 0);
  const staging = s1
    ? `if (sl < ${s0!.slices}u) {
      ${stageSegment(s0!, 'sl')}
    } else {
      ${stageSegment(s1, `sl - ${s0!.slices}u`)}
    }`
    : `{
      ${stageSegment(s0!, 'sl')}
    }`;
  const depth = (s1 && s1.kb !== s0!.kb ? `select(${s0!.kb}u, ${s1.kb}u, sl >= ${s0!.slices}u)` : `${s0!.kb}u`) + opaque;
  const mma: string[] = [];
  for (let j = 0; j < sn; j++) mma.push(`let r${j} = ${sgm.loadRight(wsArr, `wBase + ${j * cfg.N * LD}u + kk`, 'col_major', `${LD}u`)};`);
  for (let i = 0; i < sm; i++) {
    mma.push(`let l${i} = ${sgm.loadLeft(xsArr, `xBase + ${i * cfg.M * LD}u + kk`, 'row_major', `${LD}u`)};`);
    for (let j = 0; j < sn; j++) mma.push(`${acc(i, j)} = ${sgm.mma(`l${i}`, `r${j}`, acc(i, j))};`);
  }
  // Subgroups past gm x gn exist only when the hardware runs fewer lanes than subgroupMaxSize
  // (there are then at least gm x gn subgroups): they help stage and store, and idle here.
  L.push(`for (var sl = 0u; sl < ${slices}u${opaque}; sl++) {
    ${staging}
    workgroupBarrier();
    if (sgi < ${subgroups}u) {
      let depth = ${depth};
      for (var kk = 0u; kk < depth; kk += ${cfg.K}u) {
        ${mma.join('\n        ')}
      }
    }
    workgroupBarrier();
  }`);

  // One result matrix of every subgroup at a time through `cs`, then all invocations apply the
  // epilogue to pairs of consecutive columns (whole words of packed outputs).
  for (let i = 0; i < sm; i++) {
    for (let j = 0; j < sn; j++) {
      L.push(`if (sgi < ${subgroups}u) { ${sgm.store(csArr, `sgi * ${MN}u`, acc(i, j), 'row_major', `${cfg.N}u`, 'lid')} }
  workgroupBarrier();
  egoxSgmOut(b, m0 + ${i * cfg.M}u, n0 + ${j * cfg.N}u, lid);
  workgroupBarrier();`);
    }
  }
  const out = `fn egoxSgmOut(b: u32, mq: u32, nq: u32, lid: u32) {
  for (var e = lid * 2u; e < ${subgroups * MN}u; e += ${threads * 2}u) {
    let sub = e / ${MN}u;
    let rc = e % ${MN}u;
    let em = mq + (sub / ${gn}u) * ${sm * cfg.M}u + rc / ${cfg.N}u;
    let en = nq + (sub % ${gn}u) * ${sn * cfg.N}u + rc % ${cfg.N}u;
    ${storeTile(s, [['f32(cs[e])', 'f32(cs[e + 1u])']], 'em', 1, 'en', fitM, fitN)}
  }
}`;

  const body = L.join('\n  ');
  const params = sgm.mainParams();
  const fit = `fit${fitM ? 'M' : ''}${fitN ? 'N' : ''}`;
  const wgsl = `${s.yDtype === 'f32' ? '' : WGSL_HALF_BITS}
${allLoaderFns(s)}
${fns.join('\n')}
${epilogueFns(s)}
var<workgroup> xs: array<${C}, ${BM * LD}>;
var<workgroup> ws: array<${C}, ${BN * LD}>;
var<workgroup> cs: array<${cfg.result}, ${subgroups * MN}>;
${out}
${sgm.prelude()}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32${params ? ', ' + params : ''}) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let b = wg / params.tiles;
  let t = wg % params.tiles;
  let n0 = (t % ${tilesN}u) * ${BN}u;
  let m0 = (t / ${tilesN}u) * ${BM}u;
  ${body}
}`;
  return {
    name: 'gemm',
    key: `gemm:${variantKey(v)}:${specKey(s, fit)}`,
    wgsl,
    workgroupSize: [threads, 1, 1],
    bindings: gemmBindings(s),
    uniforms: gemmUniforms(s),
    uniformValues: gemmSizeValues(s, tiles),
    dispatch: s.batch * tiles,
    enables: sgm.enables(),
  };
}
