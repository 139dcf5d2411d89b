// Float64 reference of the channels-last maps (src/kernels/elementwise/channels-last.ts),
// written from the definitions: planar [C, N] in, [N, C] out.

export type RefChannelMap = 'identity' | 'exp' | 'sigmoid' | 'sinh' | 'xy_times_exp_z' | 'sinh_xy_exp_z' | 'normalize';

export function channelsLastRef(x: ArrayLike<number>, C: number, map: RefChannelMap): Float64Array {
  const n = x.length / C;
  const out = new Float64Array(x.length);
  for (let p = 0; p < n; p++) {
    const v = Array.from({ length: C }, (_, c) => x[c * n + p]!);
    let y: number[];
    if (map === 'identity') y = v;
    else if (map === 'exp') y = v.map(Math.exp);
    else if (map === 'sigmoid') y = v.map((a) => 1 / (1 + Math.exp(-a)));
    else if (map === 'sinh') y = v.map(Math.sinh);
    else if (map === 'xy_times_exp_z') y = [v[0]! * Math.exp(v[2]!), v[1]! * Math.exp(v[2]!), Math.exp(v[2]!)];
    else if (map === 'sinh_xy_exp_z') y = [Math.sinh(v[0]!), Math.sinh(v[1]!), Math.exp(v[2]!)];
    else {
      const norm = Math.max(Math.hypot(...v), 1e-12);
      y = v.map((a) => a / norm);
    }
    y.forEach((a, c) => (out[p * C + c] = a));
  }
  return out;
}
