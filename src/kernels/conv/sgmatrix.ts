// Convolution as an implicit GEMM on subgroup matrices (tensor cores on NVIDIA through
// VK_KHR_cooperative_matrix, simdgroup matrices on Apple), written once against
// SubgroupMatrixWgsl so the same kernel also runs emulated in plain WGSL (tests on lavapipe).
// M = Cout, N = output voxels, K = Cin*kt*kh*kw. A workgroup of gm x gn subgroups computes a
// BM x BN output tile, each subgroup sm x sn result matrices. Per k-slice all invocations stage
// the weight tile [BM][bk] (left matrix, row-major) and the gathered input tile [bk][BN] (right
// matrix, row-major: neighbouring invocations read neighbouring columns of x) in workgroup
// memory, converted to the config's component type and zero outside the conv (padding, front
// frames, K and tile edges), so matrix loads never leave the staged tiles and no im2col
// buffer exists. Results go through workgroup memory one matrix per subgroup at a time, and
// every invocation adds bias and residual and stores its share. With f16 components X is
// rounded to f16 too (and must stay within f16's range): a 16-bit precision class (about 2e-4
// relative L2 on random data, bound 3e-3), chosen only where the weights are 16-bit anyway
// (conv.ts). Frames, rows and columns stay uniforms: one pipeline serves every clip size.

import type { KernelProgram } from '../../runtime/program.ts';
import { CONV_UNIFORMS, checkConvSpec, convBindings, convShapeKey, weightLayout, weightReader, type ConvShapeSpec } from './common.ts';
import { PORTABLE_WORKGROUP_BYTES, SubgroupMatrixWgsl, deviceSgmShapes, sgmShapeKey, sgmTilingRunnable, type SgmDeviceInfo, type SgmShape, type SgmTiling } from '../shared/subgroup-matrix.ts';
import type { FloatDType } from '../../runtime/dtype.ts';

/** Cout along the matrices' M, output voxels along N, Cin x taps along K. */
export interface ConvSgmatrixParams extends SgmTiling {
  kind: 'sgmatrix';
}

const u = (n: number): string => `${n}u`;

/** Output channels x voxels of one workgroup. */
export function convSgmatrixTile(v: ConvSgmatrixParams): { bm: number; bn: number } {
  return { bm: v.gm * v.sm * v.cfg.M, bn: v.gn * v.sn * v.cfg.N };
}

/** Staged rows padded by 16 bytes: strides and matrix offsets stay 16-byte aligned, and rows do not share banks. */
function pad(v: ConvSgmatrixParams): number {
  return v.cfg.component === 'f16' ? 8 : 4;
}

/** Workgroup memory the kernel declares. */
export function convSgmatrixWorkgroupBytes(v: ConvSgmatrixParams): number {
  const { bm, bn } = convSgmatrixTile(v);
  const c = v.cfg.component === 'f16' ? 2 : 4;
  const r = v.cfg.result === 'f16' ? 2 : 4;
  return (bm * (v.bk + pad(v)) + v.bk * (bn + pad(v))) * c + v.gm * v.gn * v.cfg.M * v.cfg.N * r + bn * 16;
}

/**
 * The config a conv with these weights may use here, if any. f32 accumulation only (f16
 * accumulators over Cin*27 terms would leave the 16-bit precision class); f16 components only
 * for 16-bit weights (X is rounded to the component type, so an f32 conv would lose its
 * precision), f32-component configs for any weights.
 */
export function convSgmConfig(dev: SgmDeviceInfo, weight: FloatDType | undefined): SgmShape | undefined {
  const shapes = deviceSgmShapes(dev).filter((c) => c.result === 'f32');
  return weight === 'f16' || weight === 'bf16' ? shapes[0] : shapes.find((c) => c.component === 'f32');
}

/** Whether the real (not emulated) form of `v` can run on this device. */
export function convSgmatrixRunnable(dev: SgmDeviceInfo, v: ConvSgmatrixParams): boolean {
  return convSgmatrixWorkgroupBytes(v) <= PORTABLE_WORKGROUP_BYTES && sgmTilingRunnable(dev, v);
}

/**
 * A 2 x 2 grid of subgroups over about (64 * mScale) output channels x (64 * nScale) voxels,
 * slices of 32 (16 for f32 components), shallower while the workgroup memory passes 16 KiB;
 * the channel side shrinks for convs with few output channels (the VAE's last convs).
 */
export function convSgmatrixVariant(cfg: SgmShape, sg: number, cout?: number, mScale = 1, nScale = 1): ConvSgmatrixParams | undefined {
  let gm = 2;
  let sm = Math.max(1, Math.round((32 * mScale) / cfg.M));
  const sn = Math.max(1, Math.round((32 * nScale) / cfg.N));
  if (cout !== undefined) {
    const need = Math.ceil(cout / cfg.M) * cfg.M;
    while (gm * sm * cfg.M >= 2 * need && gm * sm > 1) {
      if (sm > 1) sm = Math.ceil(sm / 2);
      else gm = 1;
    }
  }
  for (const depth of cfg.component === 'f16' ? [32, 16] : [16, 8]) {
    const bk = Math.max(cfg.K, Math.floor(depth / cfg.K) * cfg.K);
    const v: ConvSgmatrixParams = { kind: 'sgmatrix', cfg, sg, gm, gn: 2, sm, sn, bk };
    if (convSgmatrixWorkgroupBytes(v) <= PORTABLE_WORKGROUP_BYTES && gm * 2 * sg <= 256) return v;
  }
  return undefined;
}

export function convSgmatrixKey(v: ConvSgmatrixParams): string {
  return `${sgmShapeKey(v.cfg)}s${v.sg}g${v.gm}x${v.gn}t${v.sm}x${v.sn}k${v.bk}${v.emulate ? 'emu' : ''}`;
}

export function convSgmatrixProgram(s: ConvShapeSpec, v: ConvSgmatrixParams): KernelProgram {
  const g = checkConvSpec(s);
  const { cfg, sg, gm, gn, sm, sn, bk } = v;
  for (const [k, n] of Object.entries({ sg, gm, gn, sm, sn, bk })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`conv sgmatrix variant: ${k} = ${n} must be a positive integer`);
  }
  if (bk % cfg.K !== 0) throw new Error(`conv sgmatrix variant: bk ${bk} must be a multiple of the config's K ${cfg.K}`);
  const sgm = new SubgroupMatrixWgsl(cfg, { emulate: v.emulate === true, lanes: sg });
  const { bm: BM, bn: BN } = convSgmatrixTile(v);
  const subgroups = gm * gn;
  const threads = subgroups * sg;
  const C = cfg.component;
  const LDA = bk + pad(v);
  const LDB = BN + pad(v);
  const MN = cfg.M * cfg.N;
  const [kt, kh, kw] = s.kernel;
  const [st, sh, sw] = s.stride;
  const K = g.k;
  const kvol = kt * kh * kw;
  const wl = weightLayout(s);
  const n = g.outF * g.outH * g.outW; // for the dispatch; the shader has it as nTot
  const mBlocks = Math.ceil(s.cout / BM);
  const nBlocks = Math.ceil(n / BN);
  const as = { name: 'As', elem: C };
  const bs = { name: 'Bs', elem: C };
  const cs = { name: 'Cs', elem: cfg.result };

  // The sm x sn tile loops are unrolled here, each matrix a variable of its own: arrays of
  // matrices indexed in loops cost lavapipe ~5x the compile time of the emulated form (private
  // arrays of arrays), and on hardware they risk spilling the matrices to memory.
  const tiles: [number, number][] = [];
  for (let i = 0; i < sm; i++) for (let j = 0; j < sn; j++) tiles.push([i, j]);
  const kStep: string[] = [];
  for (let j = 0; j < sn; j++) {
    kStep.push(`let r${j} = ${sgm.loadRight(bs, `kk * ${u(LDB)} + bBase + ${u(j * cfg.N)}`, 'row_major', u(LDB))};`);
  }
  for (let i = 0; i < sm; i++) {
    kStep.push(`{ let l = ${sgm.loadLeft(as, `aBase + ${u(i * cfg.M * LDA)} + kk`, 'row_major', u(LDA))};`);
    for (let j = 0; j < sn; j++) kStep.push(`  acc${i}_${j} = ${sgm.mma('l', `r${j}`, `acc${i}_${j}`)};`);
    kStep.push('}');
  }
  // One result matrix of every subgroup at a time through Cs, then all invocations add bias and
  // residual and store it (egoxConvOut).
  const results = tiles.map(
    ([i, j]) => `  if (sgi < ${u(subgroups)}) { ${sgm.store(cs, `sgi * ${u(MN)}`, `acc${i}_${j}`, 'row_major', u(cfg.N), 'lid')} }
  workgroupBarrier();
  egoxConvOut(m0 + ${u(i * cfg.M)}, n0 + ${u(j * cfg.N)}, lid, nTot);
  workgroupBarrier();`,
  );
  const body = `
${tiles.map(([i, j]) => `  var acc${i}_${j} = ${sgm.zero()};`).join('\n')}
  let sgi = ${sgm.subgroupIndex('lid')};
  // Subgroup-uniform offsets of this subgroup's block in the staged tiles.
  let aBase = (sgi / ${u(gn)}) * ${u(sm * cfg.M * LDA)};
  let bBase = (sgi % ${u(gn)}) * ${u(sn * cfg.N)};
  for (var k0 = 0u; k0 < ${u(K)}; k0 += ${u(bk)}) {
    for (var q = lid; q < ${u(BM * bk)}; q += ${u(threads)}) {
      let r = q / ${u(bk)};
      let k = k0 + q % ${u(bk)};
      let co = m0 + r;
      As[r * ${u(LDA)} + q % ${u(bk)}] = ${C}(select(0.0, wAt(min(co, ${u(s.cout - 1)}) * ${u(wl.rowStride)} + ${u(wl.base)} + min(k, ${u(K - 1)})), co < ${u(s.cout)} && k < ${u(K)}));
    }
    for (var q = lid; q < ${u(bk * BN)}; q += ${u(threads)}) {
      let r = q / ${u(BN)};
      let c = q % ${u(BN)};
      Bs[r * ${u(LDB)} + c] = ${C}(gatherX(k0 + r, vox[c]));
    }
    workgroupBarrier();
    // Subgroups past gm x gn exist only where the hardware runs fewer lanes than
    // subgroupMaxSize: they help stage and store, and idle here.
    if (sgi < ${u(subgroups)}) {
      for (var kk = 0u; kk < ${u(bk)}; kk += ${u(cfg.K)}) {
        ${kStep.join('\n        ')}
      }
    }
    workgroupBarrier();
  }
${results.join('\n')}`;
  // Rows mq.. and columns nq.. of subgroup 0's matrix; the others' lie gm/gn blocks further.
  const outFn = `fn egoxConvOut(mq: u32, nq: u32, lid: u32, nTot: u32) {
  for (var e = lid; e < ${u(subgroups * MN)}; e += ${u(threads)}) {
    let sub = e / ${u(MN)};
    let rc = e % ${u(MN)};
    let co = mq + (sub / ${u(gn)}) * ${u(sm * cfg.M)} + rc / ${u(cfg.N)};
    let nn = nq + (sub % ${u(gn)}) * ${u(sn * cfg.N)} + rc % ${u(cfg.N)};
    if (co < ${u(s.cout)} && nn < nTot) {
      let o = co * nTot + nn;
      out[o] = f32(Cs[e])${s.bias ? ' + bias[co]' : ''}${s.residual ? ' + res[o]' : ''};
    }
  }
}`;

  const cacheRead =
    s.cacheFrames > 0
      ? `if (p < ${u(g.frontTotal)}) { return cache[(ci * params.cacheTotal + p + params.cacheTotal - ${u(s.cacheFrames + g.zeroFront)}) * hw + sp]; }`
      : '';
  const params = sgm.mainParams();
  // sgm.prelude() (the emulation helpers) is read after `body` made its calls, as it must be.
  const wgsl = `${weightReader(s.weight)}
var<workgroup> As: array<${C}, ${BM * LDA}>;
var<workgroup> Bs: array<${C}, ${bk * LDB}>;
var<workgroup> Cs: array<${cfg.result}, ${subgroups * MN}>;
// Per staged voxel column: first input frame, row and column of its window, and 1 if it is
// inside the output (decoded once per workgroup instead of once per staged element).
var<workgroup> vox: array<vec4<i32>, ${BN}>;

// Element (k, voxel) of the virtual im2col matrix: zero padding, cached frame or x.
fn gatherX(k: u32, v: vec4<i32>) -> f32 {
  let ci = k / ${u(kvol)};
  let r = k % ${u(kvol)};
  let p = u32(v.x) + r / ${u(kh * kw)};
  let hi = v.y + i32((r / ${u(kw)}) % ${u(kh)});
  let wi = v.z + i32(r % ${u(kw)});
  if (v.w == 0 || k >= ${u(K)} || p < ${u(g.zeroFront)} || u32(hi) >= params.inH || u32(wi) >= params.inW) { return 0.0; }
  let sp = u32(hi) * params.inW + u32(wi);
  let hw = params.inH * params.inW;
  ${cacheRead}
  return x[(ci * params.inF + p - ${u(g.frontTotal)}) * hw + sp];
}
${outFn}
${sgm.prelude()}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32${params ? ', ' + params : ''}) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let m0 = (wg % ${u(mBlocks)}) * ${u(BM)};
  let n0 = (wg / ${u(mBlocks)}) * ${u(BN)};
  let nTot = params.outF * params.outH * params.outW;
  for (var c = lid; c < ${u(BN)}; c += ${u(threads)}) {
    let nv = n0 + c;
    let nc = min(nv, nTot - 1u);
    let fo = nc / (params.outH * params.outW);
    let ho = (nc / params.outW) % params.outH;
    let wo = nc % params.outW;
    vox[c] = vec4<i32>(i32(fo * ${u(st)}), i32(ho * ${u(sh)}) - ${s.pad.top}, i32(wo * ${u(sw)}) - ${s.pad.left}, select(0, 1, nv < nTot));
  }
  workgroupBarrier();
${body}
}`;
  return {
    name: 'conv',
    key: `conv:sgmatrix:${convSgmatrixKey(v)}:${convShapeKey(s)}`,
    wgsl,
    workgroupSize: [threads, 1, 1],
    uniforms: CONV_UNIFORMS,
    bindings: convBindings(s),
    dispatch: mBlocks * nBlocks,
    enables: sgm.enables(),
  };
}
