// References for the layout kernels: plain index loops over generic arrays (the kernels
// copy bits, so the tests compare raw f32 bits or 16-bit codes exactly).

type Arr = ArrayLike<number>;

function stridesOf(shape: readonly number[]): number[] {
  const s: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Visits every coordinate of `shape` in row-major order. */
function forEachCoord(shape: readonly number[], f: (c: number[], linear: number) => void): void {
  const n = shape.reduce((a, b) => a * b, 1);
  const c = new Array<number>(shape.length).fill(0);
  for (let e = 0; e < n; e++) {
    f(c, e);
    for (let i = shape.length - 1; i >= 0; i--) {
      if (++c[i]! < shape[i]!) break;
      c[i] = 0;
    }
  }
}

export function refPermute(x: Arr, shape: readonly number[], perm: readonly number[]): number[] {
  const s = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]!);
  const out: number[] = [];
  forEachCoord(outShape, (o) => out.push(x[o.reduce((acc, v, i) => acc + v * s[perm[i]!]!, 0)]!));
  return out;
}

export function refSlice(x: Arr, shape: readonly number[], axis: number, start: number, end: number): number[] {
  const s = stridesOf(shape);
  const outShape = shape.map((d, i) => (i === axis ? end - start : d));
  const out: number[] = [];
  forEachCoord(outShape, (o) => out.push(x[o.reduce((acc, v, i) => acc + (i === axis ? v + start : v) * s[i]!, 0)]!));
  return out;
}

export function refConcat(xs: { data: Arr; shape: readonly number[] }[], axis: number): number[] {
  const outShape = xs[0]!.shape.map((d, i) => (i === axis ? xs.reduce((a, t) => a + t.shape[axis]!, 0) : d));
  const out: number[] = [];
  forEachCoord(outShape, (o) => {
    let k = 0;
    let at = o[axis]!;
    while (at >= xs[k]!.shape[axis]!) at -= xs[k++]!.shape[axis]!;
    const t = xs[k]!;
    const s = stridesOf(t.shape);
    out.push(t.data[o.reduce((acc, v, i) => acc + (i === axis ? at : v) * s[i]!, 0)]!);
  });
  return out;
}

/** Latent [C, F, H, W] -> [F/pt*H/ph*W/pw, C*pt*ph*pw], feature c*pt*ph*pw + (kt*ph + kh)*pw + kw. */
export function refPatchify(x: Arr, [C, F, H, W]: readonly number[], [pt, ph, pw]: readonly number[]): number[] {
  const [Fp, Hp, Wp] = [F! / pt!, H! / ph!, W! / pw!];
  const D = C! * pt! * ph! * pw!;
  const out = new Array<number>(Fp * Hp * Wp * D);
  for (let f = 0; f < Fp; f++)
    for (let i = 0; i < Hp; i++)
      for (let j = 0; j < Wp; j++)
        for (let c = 0; c < C!; c++)
          for (let kt = 0; kt < pt!; kt++)
            for (let kh = 0; kh < ph!; kh++)
              for (let kw = 0; kw < pw!; kw++) {
                const token = (f * Hp + i) * Wp + j;
                const feat = c * pt! * ph! * pw! + (kt * ph! + kh) * pw! + kw;
                out[token * D + feat] = x[((c * F! + f * pt! + kt) * H! + i * ph! + kh) * W! + j * pw! + kw]!;
              }
  return out;
}

/** Tokens [Fp*Hp*Wp, pt*ph*pw*C] -> [C, Fp*pt, Hp*ph, Wp*pw], feature (kt*ph*pw + kh*pw + kw)*C + c. */
export function refUnpatchify(tok: Arr, [Fp, Hp, Wp]: readonly number[], [pt, ph, pw]: readonly number[], C: number): number[] {
  const [F, H, W] = [Fp! * pt!, Hp! * ph!, Wp! * pw!];
  const out = new Array<number>(C * F * H * W);
  for (let c = 0; c < C; c++)
    for (let f = 0; f < F; f++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const token = (Math.floor(f / pt!) * Hp! + Math.floor(y / ph!)) * Wp! + Math.floor(x / pw!);
          const feat = (((f % pt!) * ph! + (y % ph!)) * pw! + (x % pw!)) * C + c;
          out[((c * F + f) * H + y) * W + x] = tok[token * pt! * ph! * pw! * C + feat]!;
        }
  return out;
}
