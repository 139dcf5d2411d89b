// Flash attention on subgroup matrices (tensor cores), for adapters that offer Dawn's
// chromium_experimental_subgroup_matrix. A workgroup owns BQ queries of one head (Q staged
// once in workgroup memory, row-major [BQ][D], in the component type: f16 usually); per
// block of BK keys:
//   1. the K block is staged as [BK][D] (keys past Lk are zeros), with the block's EgoX key
//      directions;
//   2. S = Q K^T by subgroup matrices: Q the left operand, K^T the right one (the K block
//      read column-major); S goes to workgroup memory (result type, f32);
//   3. one invocation per query row applies the scale (base 2, like the other variants),
//      masks keys past Lk, updates the running max and sum (the EgoX weight multiplies each
//      probability, as in attention-common.ts) and writes P in the component type; the row
//      sum adds the rounded P, which is what multiplies V. Meanwhile the others stage the
//      V block over K, transposed to [D][BK];
//   4. O_c = P V_c by subgroup matrices for column chunks c of DC, V read column-major;
//      every invocation rescales its registers of the O tile and adds its part of O_c.
// Steps 2 and 4 are one loop over phases (0: S, 1 + c: O_c) with the same two operand
// arrays and majorness, so the emulated form inlines each emulated helper once.
// At the end each invocation divides by the row sums and stores with the shared output code.
// Q, K, V and P are rounded to the component type, so with f16 configs this is a 16-bit
// precision class whatever the storage is. Key chunks (splitAttention) carry m, l and the
// unnormalised O exactly like attention-flash.ts: chunks of whole key blocks repeat the
// unsplit arithmetic.
// An additive score term (e.g. T5's bias) would be added to `s` in step 3 before the max.

import type { KernelProgram } from '../../runtime/program.ts';
import { checkKeyChunk, egoBiasWgsl, ioWgsl, NEG_BIG, type AttentionShape, type AttentionSpec, queryTileWgsl, queryTiledProgram } from './common.ts';
import { SubgroupMatrixWgsl, type SgmShape } from '../shared/subgroup-matrix.ts';


/** Workgroup memory the tiles are sized for: Apple's limit (NVIDIA offers 48 KB, Intel 64 KB). */
export const SGM_ATTENTION_BUDGET_BYTES = 32768;
/** Invocations per workgroup (4 subgroups of 32 on NVIDIA and Apple); more if the subgroup is larger. */
const THREADS = 128;

export interface SgmAttentionTiles {
  /** Queries per workgroup (a multiple of M). */
  bq: number;
  /** Keys per block (a multiple of N, for S, and of K, for P V). */
  bk: number;
  /** Output columns per P V pass (a multiple of N and 4 dividing D, at most BK: S and O_c share one array). */
  dc: number;
  threads: number;
  /** Workgroup memory of the kernel. */
  bytes: number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function compBytes(c: 'f16' | 'f32'): number {
  return c === 'f16' ? 2 : 4;
}

/**
 * Why a head dim does not fit a config (undefined when it does): S contracts over D in
 * steps of K, and O's D columns come in tiles of N.
 */
export function sgmHeadDimProblem(headDim: number, sgm: SgmShape): string | undefined {
  if (headDim % sgm.K !== 0 || headDim % sgm.N !== 0) {
    return `head dim ${headDim} is not a multiple of the subgroup-matrix config's K = ${sgm.K} and N = ${sgm.N}`;
  }
  return undefined;
}

/**
 * Tile sizes for a head dim and config: the largest query tile (then key block) whose
 * workgroup memory fits the budget; undefined if even the smallest does not.
 */
export function sgmAttentionTiles(headDim: number, sgm: SgmShape, subgroupSize = 32, budget = SGM_ATTENTION_BUDGET_BYTES): SgmAttentionTiles | undefined {
  if (sgmHeadDimProblem(headDim, sgm)) return undefined;
  const D = headDim;
  const cb = compBytes(sgm.component);
  const rb = compBytes(sgm.result);
  const kStep = (sgm.N * sgm.K) / gcd(sgm.N, sgm.K);
  const threads = Math.max(THREADS, subgroupSize);
  for (const bq of [64, 32, 16, 8]) {
    if (bq % sgm.M !== 0 || bq > threads) continue;
    for (const want of [32, 16, 8]) {
      const bk = Math.ceil(want / kStep) * kStep;
      let dc = sgm.N;
      for (let c = sgm.N; c <= Math.min(bk, D); c += sgm.N) if (D % c === 0 && c % 4 === 0) dc = c;
      if (dc % 4 !== 0) continue; // the O tile is owned in vec4s
      // Q, the K/V block, P (component type), S / O_c (result type), key directions, per-row alpha and sum.
      const bytes = bq * D * cb + bk * D * cb + bq * bk * cb + bq * Math.max(bk, dc) * rb + 3 * bk * 4 + 2 * bq * 4;
      if (bytes <= budget) return { bq, bk, dc, threads, bytes };
    }
  }
  return undefined;
}

/** The tiles of a spec, or an error that says why the head dim does not fit. */
export function sgmSpecTiles(spec: AttentionSpec): SgmAttentionTiles {
  const sgm = spec.sgm;
  if (!sgm) throw new Error('attention: the sgmatrix variant needs a subgroup-matrix config (spec.sgm)');
  const problem = sgmHeadDimProblem(spec.headDim, sgm);
  if (problem) throw new Error(`attention: ${problem}; use the flash variant for this head dim`);
  const t = sgmAttentionTiles(spec.headDim, sgm, spec.subgroupSize);
  if (!t) throw new Error(`attention: head dim ${spec.headDim} needs more than ${SGM_ATTENTION_BUDGET_BYTES} bytes of workgroup memory in the sgmatrix variant; use the flash variant`);
  return t;
}

export function sgmatrixTileQueries(spec: AttentionSpec): number {
  return sgmSpecTiles(spec).bq;
}

export function sgmatrixKeyBlock(spec: AttentionSpec): number {
  return sgmSpecTiles(spec).bk;
}

export function attentionSgmatrixProgram(spec: AttentionSpec, shape: AttentionShape): KernelProgram {
  checkKeyChunk(spec);
  const { bq: BQ, bk: BK, dc: DC, threads: NT } = sgmSpecTiles(spec);
  const sgmShape = spec.sgm!;
  const { M, N, K } = sgmShape;
  const lanes = spec.subgroupSize ?? 32;
  if (spec.emulate && NT % lanes !== 0) throw new Error(`attention: ${lanes} emulated lanes do not divide ${NT} invocations`);
  const sgm = new SubgroupMatrixWgsl(sgmShape, { emulate: spec.emulate ?? false, lanes });
  const comp = sgmShape.component;
  const res = sgmShape.result;
  const chunk = spec.keyChunk;
  const resume = chunk === 'middle' || chunk === 'last';
  const keep = chunk === 'first' || chunk === 'middle';
  const bias = spec.egoBias;
  const D = spec.headDim;
  const D4 = D / 4;
  const DC4 = DC / 4;
  const NCH = D / DC;
  // O tile vec4s per chunk, and per invocation per chunk.
  const GC = BQ * DC4;
  const NPC = Math.ceil(GC / NT);
  const P0 = BQ * D; // P follows Q in the left-operand array
  const sg = sgm.subgroupIndex('lid');
  const sgn = sgm.subgroupCount(NT);
  // Loop bounds: constants for the real form (unrolled, so the O registers stay registers),
  // uniforms of the same value for the emulation, so that lavapipe keeps the loops rolled
  // and inlines each emulated load / multiply once (every copy costs seconds of LLVM time).
  // params.d4 = D / 4; params.bc = BK (attentionLaunch passes this variant's key block).
  const emu = spec.emulate ?? false;
  const bound = (constant: number, uniform: string) => (emu ? uniform : `${constant}u`);
  const bkBound = bound(BK, 'params.bc');
  const phases = bound(1 + NCH, `(1u + params.d4 / ${DC4}u)`);

  // One multiply loop serves both products, so each emulated helper is inlined once:
  // phase 0: S [BQ x BK] = Q K^T, contraction D: left Q (row-major, stride D), right the K
  // block [BK][D] read column-major (stride D); phase 1 + c: O chunk c [BQ x DC] = P V_c,
  // contraction BK: left P (row-major, stride BK), right V staged transposed [D][BK] and
  // read column-major (stride BK). Both results go row-major to SO.
  const left = { name: 'LA', elem: comp };
  const right = { name: 'KV', elem: comp };
  const so = { name: 'SO', elem: res };
  const multiply = `let isS = ph == 0u;
    let ch = ph - 1u;
    let tileCols = select(${DC / N}u, ${BK / N}u, isS);
    let tiles = ${BQ / M}u * tileCols;
    let depth = select(${bkBound}, ${bound(D, '4u * params.d4')}, isS);
    let ldA = select(${BK}u, ${D}u, isS);
    let ldB = select(${BK}u, ${D}u, isS);
    let ldC = select(${DC}u, ${BK}u, isS);
    for (var t = ${sg}; t < tiles; t += ${sgn}) {
      let mt = t / tileCols;
      let nt = t % tileCols;
      let aBase = select(${P0}u + mt * ${M * BK}u, mt * ${M * D}u, isS);
      let bBase = select((ch * ${DC}u + nt * ${N}u) * ${BK}u, nt * ${N * D}u, isS);
      var acc = ${sgm.zero()};
      for (var kc = 0u; kc < depth; kc += ${K}u) {
        let a = ${sgm.loadLeft(left, 'aBase + kc', 'row_major', 'ldA')};
        let b = ${sgm.loadRight(right, 'bBase + kc', 'col_major', 'ldB')};
        acc = ${sgm.mma('a', 'b', 'acc')};
      }
      ${sgm.store(so, `mt * ${M}u * ldC + nt * ${N}u`, 'acc', 'row_major', 'ldC', 'lid')}
    }`;
  const cvt = (x: string) => `${comp}(${x})`;
  // The O tile vec4 `e` of chunk `ch` owned by this invocation: row and global column group.
  const ownedRow = 'e / DC4';
  const ownedAt = '(min(segBase + tileBase + e / DC4, params.lq - 1u) * params.heads + h) * D4 + ch * DC4 + e % DC4';
  const ownedOk = '(tileBase + e / DC4 < params.segLen && segBase + tileBase + e / DC4 < params.lq)';
  const owned = (stmt: string) => `for (var n = 0u; n < ${NPC}u; n++) {
      let e = lid + n * NT;
      if (e < ${GC}u) { ${stmt} }
    }`;
  const everyOwned = (stmt: string) => `for (var ch = 0u; ch < ${bound(NCH, `(params.d4 / ${DC4}u)`)}; ch++) {
    ${owned(`if (${ownedOk}) { ${stmt} }`)}
  }`;

  const body = `
const D4: u32 = ${D4}u;
const DC4: u32 = ${DC4}u;
const NT: u32 = ${NT}u;
var<workgroup> LA: array<${comp}, ${P0 + BQ * BK}>;
var<workgroup> KV: array<${comp}, ${BK * D}>;
var<workgroup> SO: array<${res}, ${BQ * Math.max(BK, DC)}>;
var<workgroup> AL: array<f32, ${BQ}>;
var<workgroup> LS: array<f32, ${BQ}>;
${bias ? `var<workgroup> KD: array<f32, ${3 * BK}>;` : ''}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32${sgm.mainParams() ? `, ${sgm.mainParams()}` : ''}) {
${queryTileWgsl(`${BQ}u`)}
  // Query rows past the segment repeat its last query (loads stay in bounds; never stored).
  for (var i = lid; i < ${bound(BQ * D4, `${BQ}u * params.d4`)}; i += NT) {
    let q = min(segBase + min(tileBase + i / D4, params.segLen - 1u), params.lq - 1u);
    let x = ldQ((q * params.heads + h) * D4 + i % D4);
    LA[4u * i] = ${cvt('x.x')}; LA[4u * i + 1u] = ${cvt('x.y')}; LA[4u * i + 2u] = ${cvt('x.z')}; LA[4u * i + 3u] = ${cvt('x.w')};
  }
  // Invocation r < BQ keeps the softmax state of query row r.
  let r = min(lid, ${BQ - 1}u);
  let qr = min(segBase + min(tileBase + r, params.segLen - 1u), params.lq - 1u);
  var m = ${NEG_BIG};
  var l = 0.0;
  ${bias ? 'let qd = egoQueryDir(qr);' : ''}
  var o: array<vec4<f32>, ${NCH * NPC}>;
  ${resume ? `if (lid < ${BQ}u) { let st = ldState(qr * params.heads + h); m = st.x; l = st.y; }
  ${everyOwned(`o[ch * ${NPC}u + n] = ldORaw(${ownedAt});`)}` : ''}
  for (var kb = 0u; kb < params.lk; kb += ${BK}u) {
    // The K block [BK][D], zeros past Lk.
    for (var i = lid; i < ${bound(BK * D4, 'params.bc * params.d4')}; i += NT) {
      let key = kb + i / D4;
      var x = vec4<f32>(0.0);
      if (key < params.lk) { x = ldK((key * params.heads + h) * D4 + i % D4); }
      KV[4u * i] = ${cvt('x.x')}; KV[4u * i + 1u] = ${cvt('x.y')}; KV[4u * i + 2u] = ${cvt('x.z')}; KV[4u * i + 3u] = ${cvt('x.w')};
    }
    ${bias ? `for (var i = lid; i < ${bkBound}; i += NT) {
      let kd = egoKeyDir(frame, min(kb + i, params.lk - 1u));
      KD[3u * i] = kd.x; KD[3u * i + 1u] = kd.y; KD[3u * i + 2u] = kd.z;
    }` : ''}
    workgroupBarrier();
    for (var ph = 0u; ph < ${phases}; ph++) {
      ${multiply}
      workgroupBarrier();
      if (isS) {
        if (lid < ${BQ}u) {
          var mx = m;
          for (var j = 0u; j < ${bkBound}; j++) {
            if (kb + j < params.lk) { mx = max(mx, f32(SO[r * ${BK}u + j]) * params.qscale); }
          }
          let al = exp2(m - mx);
          m = mx;
          var sum = 0.0;
          for (var j = 0u; j < ${bkBound}; j++) {
            var p = 0.0;
            if (kb + j < params.lk) {
              let s = f32(SO[r * ${BK}u + j]) * params.qscale;
              p = exp2(s - mx)${bias ? ' * egoWeight(dot(qd, vec3<f32>(KD[3u * j], KD[3u * j + 1u], KD[3u * j + 2u])))' : ''};
            }
            // P as it multiplies V, so the row sum matches the products.
            let pc = ${cvt('p')};
            LA[${P0}u + r * ${BK}u + j] = pc;
            sum += f32(pc);
          }
          l = l * al + sum;
          AL[r] = al;
        }
        // The V block, transposed to [D][BK] (zeros past Lk), over K.
        for (var i = lid; i < ${bound(BK * D4, 'params.bc * params.d4')}; i += NT) {
          let key = i % ${BK}u;
          let c = i / ${BK}u;
          var x = vec4<f32>(0.0);
          if (kb + key < params.lk) { x = ldV(((kb + key) * params.heads + h) * D4 + c); }
          let at = 4u * c * ${BK}u + key;
          KV[at] = ${cvt('x.x')}; KV[at + ${BK}u] = ${cvt('x.y')}; KV[at + ${2 * BK}u] = ${cvt('x.z')}; KV[at + ${3 * BK}u] = ${cvt('x.w')};
        }
      } else {
        ${owned(`let b = 4u * e;
        let ob = vec4<f32>(f32(SO[b]), f32(SO[b + 1u]), f32(SO[b + 2u]), f32(SO[b + 3u]));
        o[ch * ${NPC}u + n] = o[ch * ${NPC}u + n] * AL[${ownedRow}] + ob;`)}
      }
      workgroupBarrier();
    }
  }
  ${
    keep
      ? `if (lid < ${BQ}u && tileBase + r < params.segLen && segBase + tileBase + r < params.lq) { stState(qr * params.heads + h, vec2<f32>(m, l)); }
  ${everyOwned(`stORaw(${ownedAt}, o[ch * ${NPC}u + n]);`)}`
      : `if (lid < ${BQ}u) { LS[r] = l; }
  workgroupBarrier();
  ${everyOwned(`stO(${ownedAt}, o[ch * ${NPC}u + n] / LS[${ownedRow}]);`)}`
  }
}`;
  // The emulation helpers exist once the body has made its calls.
  const wgsl = `${ioWgsl(spec)}
${egoBiasWgsl(spec)}
${sgm.prelude()}
${body}`;
  return queryTiledProgram(spec, shape, { tileQueries: BQ, tuning: `bq${BQ}bk${BK}dc${DC}t${NT}`, wgsl, threads: NT, enables: sgm.enables() });
}
