// Flash attention for CPU adapters with small fixed subgroups (lavapipe: 8 lanes, one SIMD
// register). One subgroup per workgroup. Each lane keeps R queries in registers, pre-scaled
// by scale * log2 e so the softmax uses exp2. Keys go in blocks of S (the subgroup size):
// lane j loads key j of the block as vec4s and every lane gets the other rows through
// subgroupBroadcast, so each K/V row is loaded once per subgroup (storage loads are lane by
// lane on lavapipe) and feeds S * R dot products. The running max and the output rescale
// happen once per block. The block is unrolled with named registers (arrays indexed in a
// loop become per-lane gathers on lavapipe); the tail block is masked, not duplicated.
//
// Compile cost grows fast with the values live across the key loop (2 * R * D per lane:
// lavapipe's LLVM spends ~15 s at D = 64, R = 4 and ~40 s at D = 128, R = 3 on a loaded
// 2-core machine; Mesa's disk cache keeps the result), so R stays small: 4 at D = 64, 3 at 128.
// An additive score term (e.g. T5's bias) would go into s{r}_{j} before the max below.

import type { KernelProgram } from '../../runtime/program.ts';
import { checkKeyChunk, egoBiasWgsl, ioWgsl, NEG_BIG, type AttentionShape, type AttentionSpec, queryTileWgsl, queryTiledProgram } from './common.ts';


export function subgroupTileQueries(spec: AttentionSpec): number {
  return (spec.subgroupSize ?? 8) * defaultQueriesPerLane(spec);
}

/** Queries per lane: measured on lavapipe at L = 2048, D = 64 R = 4 ~10 GFLOP/s; D = 128: R = 2 6.2, R = 3 8.7. */
export function defaultQueriesPerLane(spec: AttentionSpec): number {
  return spec.queriesPerLane ?? (spec.headDim <= 64 ? 4 : spec.headDim <= 128 ? 3 : 1);
}

export function attentionSubgroupProgram(spec: AttentionSpec, shape: AttentionShape): KernelProgram {
  checkKeyChunk(spec);
  const S = spec.subgroupSize ?? 8;
  const chunk = spec.keyChunk;
  const R = defaultQueriesPerLane(spec);
  const D4 = spec.headDim / 4;
  const bias = spec.egoBias;
  const rs = [...Array(R).keys()];
  const cs = [...Array(D4).keys()];
  const js = [...Array(S).keys()];

  const L: string[] = [];
  const emit = (s: string) => L.push(s);
  // Per lane: its R queries (clamped for loads; `ok` says whether to store).
  for (const r of rs) {
    emit(`let loc${r} = tileBase + ${r * S}u + lane;`);
    emit(`let ok${r} = loc${r} < params.segLen && segBase + loc${r} < params.lq;`);
    emit(`let qi${r} = min(segBase + min(loc${r}, params.segLen - 1u), params.lq - 1u);`);
    emit(`let qb${r} = (qi${r} * params.heads + h) * D4;`);
    for (const c of cs) emit(`var q${r}_${c} = vec4<f32>(0.0);`);
    for (const c of cs) emit(`var o${r}_${c} = vec4<f32>(0.0);`);
    emit(`var m${r} = ${NEG_BIG};`);
    emit(`var l${r} = 0.0;`);
    if (chunk === 'middle' || chunk === 'last') {
      // Resume the previous key chunks' running max, sum and unnormalised output.
      emit(`let st${r} = ldState(qi${r} * params.heads + h);`);
      emit(`m${r} = st${r}.x;`);
      emit(`l${r} = st${r}.y;`);
      emit(`for (var c = 0u; c < params.d4; c++) {`);
      emit(`  let x = ldORaw(qb${r} + c);`);
      for (const c of cs) emit(`  o${r}_${c} = select(o${r}_${c}, x, c == ${c}u);`);
      emit(`}`);
    }
    // One load site in a loop instead of D4 unrolled ones: every load site is a branchy
    // per-lane sequence on lavapipe, and compile time grows with their number.
    emit(`for (var c = 0u; c < params.d4; c++) {`);
    emit(`  let x = ldQ(qb${r} + c) * params.qscale;`);
    for (const c of cs) emit(`  q${r}_${c} = select(q${r}_${c}, x, c == ${c}u);`);
    emit(`}`);
    if (bias) emit(`let qd${r} = egoQueryDir(qi${r});`);
  }
  emit(`for (var kb = 0u; kb < params.lk; kb += ${S}u) {`);
  emit(`  let kbase = (min(kb + lane, params.lk - 1u) * params.heads + h) * D4;`);
  for (const c of cs) emit(`  let k${c} = ldK(kbase + ${c}u);`);
  if (bias) emit(`  let kd = egoKeyDir(frame, min(kb + lane, params.lk - 1u));`);
  for (const j of js) {
    for (const c of cs) emit(`  let b${j}_${c} = subgroupBroadcast(k${c}, ${j}u);`);
    emit(`  let in${j} = kb + ${j}u < params.lk;`);
    for (const r of rs) {
      emit(`  let s${r}_${j} = select(${NEG_BIG}, ${cs.map((c) => `dot(q${r}_${c}, b${j}_${c})`).join(' + ')}, in${j});`);
    }
    if (bias) {
      emit(`  let kd${j} = subgroupBroadcast(kd, ${j}u);`);
      for (const r of rs) emit(`  let w${r}_${j} = egoWeight(dot(qd${r}, kd${j}));`);
    }
  }
  for (const r of rs) {
    emit(`  let mn${r} = max(m${r}, ${js.map((j) => `s${r}_${j}`).reduce((a, b) => `max(${a}, ${b})`)});`);
    emit(`  let al${r} = exp2(m${r} - mn${r});`);
    emit(`  m${r} = mn${r};`);
    for (const j of js) emit(`  let p${r}_${j} = exp2(s${r}_${j} - mn${r})${bias ? ` * w${r}_${j}` : ''};`);
    emit(`  l${r} = l${r} * al${r} + ${js.map((j) => `p${r}_${j}`).join(' + ')};`);
  }
  for (const c of cs) emit(`  let v${c} = ldV(kbase + ${c}u);`);
  for (const c of cs) {
    for (const j of js) emit(`  let c${j}_${c} = subgroupBroadcast(v${c}, ${j}u);`);
    for (const r of rs) {
      emit(`  o${r}_${c} = o${r}_${c} * al${r} + ${js.map((j) => `p${r}_${j} * c${j}_${c}`).join(' + ')};`);
    }
  }
  emit(`}`);
  const keep = chunk === 'first' || chunk === 'middle';
  for (const r of rs) {
    emit(`{`);
    if (!keep) emit(`  let inv = 1.0 / l${r};`);
    emit(`  for (var c = 0u; c < params.d4; c++) {`);
    emit(`    var x = o${r}_0;`);
    for (const c of cs.slice(1)) emit(`    x = select(x, o${r}_${c}, c == ${c}u);`);
    // More key chunks follow: keep the state instead of normalising.
    emit(keep ? `    if (ok${r}) { stORaw(qb${r} + c, x); }` : `    if (ok${r}) { stO(qb${r} + c, x * inv); }`);
    emit(`  }`);
    if (keep) emit(`  if (ok${r}) { stState(qi${r} * params.heads + h, vec2<f32>(m${r}, l${r})); }`);
    emit(`}`);
  }

  const wgsl = `${ioWgsl(spec)}
${egoBiasWgsl(spec)}
const D4: u32 = ${D4}u;
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
${queryTileWgsl(`${S * R}u`)}
${L.map((l) => `  ${l}`).join('\n')}
}`;
  return queryTiledProgram(spec, shape, { tileQueries: S * R, tuning: `s${S}r${R}`, wgsl, threads: S, enables: ['subgroups'] });
}
