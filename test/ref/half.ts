// Float64 references for f16 / bf16 rounding, written from the IEEE definitions (not from
// the bit tricks in src/runtime/dtype.ts), so the two can disagree if one is wrong.

function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const r = q - f;
  if (r > 0.5) return f + 1;
  if (r < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  if (2 ** (e + 1) <= a) e += 1;
  return e;
}

/** Nearest value with `mant` fraction bits, exponent >= minExp, or Infinity past maxExp. */
function roundToFormat(x: number, mant: number, minExp: number, maxExp: number): number {
  if (Number.isNaN(x) || !Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  const e = Math.max(exponentOf(a), minExp);
  const ulp = 2 ** (e - mant);
  const r = roundHalfEven(a / ulp) * ulp;
  const maxFinite = (2 - 2 ** -mant) * 2 ** maxExp;
  const out = r > maxFinite ? Infinity : r;
  return Math.sign(x) * out;
}

export function refRoundF16(x: number): number {
  return roundToFormat(x, 10, -14, 15);
}

export function refRoundBf16(x: number): number {
  return roundToFormat(x, 7, -126, 127);
}

/** Decodes an f16 code from its definition. */
export function refDecodeF16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
