// Float64 reference of CLIP's preprocessing: PIL's bicubic resize written as plain loops
// (Keys cubic a = -0.5, centre (i + 0.5) * in / out, kernel stretched by in / out when
// shrinking, window cut at the borders and renormalised; horizontal pass then vertical),
// optionally in PIL's 8-bit fixed point (weights rounded at 22 fractional bits, integer sums
// + 2^21 shifted right by 22, clamped to 0..255, after each pass), then crop and normalise.

function keys(x: number): number {
  const ax = Math.abs(x);
  if (ax < 1) return 1.5 * ax ** 3 - 2.5 * ax ** 2 + 1;
  if (ax < 2) return -0.5 * ax ** 3 + 2.5 * ax ** 2 - 4 * ax + 2;
  return 0;
}

/** Resamples one line of n values to m values. */
function resampleLine(line: Float64Array, m: number, eightBit: boolean): Float64Array {
  const n = line.length;
  const scale = n / m;
  const stretch = Math.max(1, scale);
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(centre - 2 * stretch + 0.5));
    const hi = Math.min(n, Math.trunc(centre + 2 * stretch + 0.5));
    const ws: number[] = [];
    for (let j = lo; j < hi; j++) ws.push(keys((j + 0.5 - centre) / stretch));
    const wsum = ws.reduce((a, b) => a + b, 0);
    let acc = 0;
    if (eightBit) {
      const fixed = ws.map((w) => (w < 0 ? Math.ceil((w / wsum) * 4194304 - 0.5) : Math.floor((w / wsum) * 4194304 + 0.5)));
      for (let j = lo; j < hi; j++) acc += fixed[j - lo]! * line[j]!;
      out[i] = Math.min(255, Math.max(0, Math.floor((acc + 2097152) / 4194304)));
    } else {
      for (let j = lo; j < hi; j++) acc += ws[j - lo]! * line[j]!;
      out[i] = acc / wsum;
    }
  }
  return out;
}

/** img [C, H, W] -> [C, h, w]; `eightBit`: PIL's fixed point on 0..255 integers. */
export function refResize(img: ArrayLike<number>, C: number, H: number, W: number, h: number, w: number, eightBit: boolean): Float64Array {
  const mid = new Float64Array(C * H * w);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      const line = new Float64Array(W);
      for (let x = 0; x < W; x++) line[x] = img[(c * H + y) * W + x]!;
      const r = resampleLine(line, w, eightBit);
      for (let x = 0; x < w; x++) mid[(c * H + y) * w + x] = r[x]!;
    }
  }
  const out = new Float64Array(C * h * w);
  for (let c = 0; c < C; c++) {
    for (let x = 0; x < w; x++) {
      const line = new Float64Array(H);
      for (let y = 0; y < H; y++) line[y] = mid[(c * H + y) * w + x]!;
      const r = resampleLine(line, h, eightBit);
      for (let y = 0; y < h; y++) out[(c * h + y) * w + x] = r[y]!;
    }
  }
  return out;
}

/** Centre crop [C, h, w] -> [C, S, S] (top = (h - S) // 2), then (v * scale - mean) / std. */
export function refCropNormalise(img: Float64Array, C: number, h: number, w: number, S: number, scale: number, mean: readonly number[], std: readonly number[]): Float64Array {
  const top = Math.floor((h - S) / 2);
  const left = Math.floor((w - S) / 2);
  const out = new Float64Array(C * S * S);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) out[(c * S + y) * S + x] = (img[(c * h + top + y) * w + left + x]! * scale - mean[c]!) / std[c]!;
    }
  }
  return out;
}
