// Float64 reference of Wan's 3D RoPE, written from the definition: the head dim is cut into
// frame / row / col parts of d - 4*(d//6), 2*(d//6), 2*(d//6) real dims; within a part of
// `dim` real dims, complex pair j (elements 2j, 2j+1 of that part) is multiplied by
// exp(i * pos * theta^(-2j/dim)), pos being the token's frame, row or column index.

export interface RefRopeArgs {
  grid: readonly [number, number, number];
  heads: number;
  headDim: number;
  theta?: number;
}

export function refRope(x: ArrayLike<number>, a: RefRopeArgs): Float64Array {
  const [F, HP, WP] = a.grid;
  const D = a.headDim;
  const theta = a.theta ?? 10000;
  const sixth = Math.floor(D / 6);
  const dims = [D - 4 * sixth, 2 * sixth, 2 * sixth];
  const out = new Float64Array(F * HP * WP * a.heads * D);
  for (let f = 0; f < F; f++) {
    for (let r = 0; r < HP; r++) {
      for (let c = 0; c < WP; c++) {
        const tok = (f * HP + r) * WP + c;
        const pos = [f, r, c];
        for (let h = 0; h < a.heads; h++) {
          const base = (tok * a.heads + h) * D;
          let start = 0;
          for (let part = 0; part < 3; part++) {
            const dim = dims[part]!;
            for (let j = 0; j < dim / 2; j++) {
              const angle = pos[part]! / theta ** ((2 * j) / dim);
              const re = x[base + start + 2 * j]!;
              const im = x[base + start + 2 * j + 1]!;
              out[base + start + 2 * j] = re * Math.cos(angle) - im * Math.sin(angle);
              out[base + start + 2 * j + 1] = re * Math.sin(angle) + im * Math.cos(angle);
            }
            start += dim;
          }
        }
      }
    }
  }
  return out;
}
