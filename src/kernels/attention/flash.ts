// Flash attention with workgroup-memory tiles, for GPUs. A workgroup owns BQ queries of one
// head; its threads form a BQ x (D/4) grid, thread (r, t) owning output columns 4t..4t+3 of
// query r. Per tile of BC keys: the K and V tiles are staged in workgroup memory, thread
// (r, t < BC) computes the score of query r with key t (plus the EgoX weight), the row max
// gives the rescale factor, the probabilities go through workgroup memory, and every
// thread accumulates its 4 output columns. Loops stay loops (D/4 and BC), so the shader is
// small; scores never leave workgroup memory.
// An additive score term (e.g. T5's bias) would be added to `s` where it is computed.

import type { KernelProgram } from '../../runtime/program.ts';
import { checkKeyChunk, egoBiasWgsl, flashKeysPerTile, ioWgsl, NEG_BIG, type AttentionShape, type AttentionSpec, queryTileWgsl, queryTiledProgram } from './common.ts';


/** Queries per workgroup: 256 threads of D/4 columns each. */
export function flashTileQueries(spec: AttentionSpec): number {
  return Math.max(1, Math.floor(256 / (spec.headDim / 4)));
}

export function attentionFlashProgram(spec: AttentionSpec, shape: AttentionShape): KernelProgram {
  checkKeyChunk(spec);
  const chunk = spec.keyChunk;
  const resume = chunk === 'middle' || chunk === 'last';
  const keep = chunk === 'first' || chunk === 'middle';
  const D4 = spec.headDim / 4;
  const BQ = flashTileQueries(spec);
  const BC = flashKeysPerTile(spec);
  const threads = BQ * D4;
  const bias = spec.egoBias;
  const wgsl = `${ioWgsl(spec)}
${egoBiasWgsl(spec)}
const D4: u32 = ${D4}u;
const BQ: u32 = ${BQ}u;
const BC: u32 = ${BC}u;
const NT: u32 = ${threads}u;
var<workgroup> qs: array<vec4<f32>, ${BQ * D4}>;
var<workgroup> ks: array<vec4<f32>, ${BC * D4}>;
var<workgroup> vs: array<vec4<f32>, ${BC * D4}>;
var<workgroup> ps: array<f32, ${BQ * BC}>;
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
${queryTileWgsl('BQ')}
  let r = lid / D4;
  let t = lid % D4;
  let loc = tileBase + r;
  let ok = loc < params.segLen && segBase + loc < params.lq;
  let qi = min(segBase + min(loc, params.segLen - 1u), params.lq - 1u);
  for (var i = lid; i < BQ * D4; i += NT) {
    let rr = i / D4;
    let q = min(segBase + min(tileBase + rr, params.segLen - 1u), params.lq - 1u);
    qs[i] = ldQ((q * params.heads + h) * D4 + i % D4) * params.qscale;
  }
  ${bias ? 'let qd = egoQueryDir(qi);' : ''}
  var o = vec4<f32>(0.0);
  var m = ${NEG_BIG};
  var l = 0.0;${resume ? '\n  let st = ldState(qi * params.heads + h); m = st.x; l = st.y; o = ldORaw((qi * params.heads + h) * D4 + t);' : ''}
  for (var kb = 0u; kb < params.lk; kb += BC) {
    workgroupBarrier();
    for (var i = lid; i < BC * D4; i += NT) {
      let key = min(kb + i / D4, params.lk - 1u);
      let at = (key * params.heads + h) * D4 + i % D4;
      ks[i] = ldK(at);
      vs[i] = ldV(at);
    }
    workgroupBarrier();
    var s = ${NEG_BIG};
    var w = 1.0;
    if (t < BC && kb + t < params.lk) {
      var acc = 0.0;
      for (var c = 0u; c < params.d4; c++) { acc += dot(qs[r * D4 + c], ks[t * D4 + c]); }
      s = acc;
      ${bias ? 'w = egoWeight(dot(qd, egoKeyDir(frame, kb + t)));' : ''}
    }
    if (t < BC) { ps[r * BC + t] = s; }
    workgroupBarrier();
    var mx = m;
    for (var j = 0u; j < params.bc; j++) { mx = max(mx, ps[r * BC + j]); }
    let al = exp2(m - mx);
    m = mx;
    workgroupBarrier();
    if (t < BC) { ps[r * BC + t] = exp2(s - mx) * w; }
    workgroupBarrier();
    var sum = 0.0;
    var acc4 = vec4<f32>(0.0);
    for (var j = 0u; j < params.bc; j++) {
      let p = ps[r * BC + j];
      sum += p;
      acc4 += p * vs[j * D4 + t];
    }
    l = l * al + sum;
    o = o * al + acc4;
  }
  ${keep ? 'if (ok) { stORaw((qi * params.heads + h) * D4 + t, o); if (t == 0u) { stState(qi * params.heads + h, vec2<f32>(m, l)); } }' : 'if (ok) { stO((qi * params.heads + h) * D4 + t, o / l); }'}
}`;
  return queryTiledProgram(spec, shape, { tileQueries: BQ, tuning: `bq${BQ}bc${BC}`, wgsl, threads });
}
