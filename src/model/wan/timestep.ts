// Sinusoidal timestep embedding of the Wan DiT: 128 frequencies f_i = 10000^(-i/128),
// laid out [cos(t f), sin(t f)], computed in float64 as the reference does.

export function timestepEmbedding(t: number, freqDim = 256): Float32Array {
  const half = freqDim / 2;
  const out = new Float32Array(freqDim);
  for (let i = 0; i < half; i++) {
    const f = Math.exp((-Math.log(10000) * i) / half);
    out[i] = Math.cos(t * f);
    out[half + i] = Math.sin(t * f);
  }
  return out;
}
