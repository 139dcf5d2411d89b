// MINPACK's lmdif (Levenberg-Marquardt with a forward-difference Jacobian), in float64, as
// scipy's least_squares(method='lm') drives it: the official MoGe fit stops at ftol 1e-3, so
// its answer depends on the exact iteration sequence, which only the same algorithm
// reproduces. Ported from the published MINPACK-1 description (More, Garbow, Hillstrom 1980):
// lmdif, fdjac2, qrfac (Householder QR with column pivoting), lmpar (the Levenberg-Marquardt
// parameter by the More iteration), qrsolv (Givens eliminations of the diagonal) and enorm
// (the overflow-safe Euclidean norm). Arrays are 0-based; the Jacobian is column-major
// [n][m] as in Fortran.
//
// Scaling: scipy before 1.16 passes diag = 1 / x_scale with x_scale = 1, i.e. MINPACK mode 2
// with unit scales; that is what `diag` defaults to here (scipy >= 1.16 defaults to
// x_scale='jac', MINPACK mode 1: pass diag 'jac' for that).

const EPSMCH = 2.220446049250313e-16;
const DWARF = 2.2250738585072014e-308;

export function enorm(x: ArrayLike<number>, start = 0, end = x.length): number {
  const rdwarf = 3.834e-20;
  const rgiant = 1.304e19;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let x1max = 0;
  let x3max = 0;
  const agiant = rgiant / (end - start);
  for (let i = start; i < end; i++) {
    const xabs = Math.abs(x[i]!);
    if (xabs > rdwarf && xabs < agiant) s2 += xabs * xabs;
    else if (xabs <= rdwarf) {
      if (xabs > x3max) {
        s3 = 1 + s3 * (x3max / xabs) ** 2;
        x3max = xabs;
      } else if (xabs !== 0) s3 += (xabs / x3max) ** 2;
    } else if (xabs > x1max) {
      s1 = 1 + s1 * (x1max / xabs) ** 2;
      x1max = xabs;
    } else s1 += (xabs / x1max) ** 2;
  }
  if (s1 !== 0) return x1max * Math.sqrt(s1 + s2 / x1max / x1max);
  if (s2 !== 0) return s2 >= x3max ? Math.sqrt(s2 * (1 + (x3max / s2) * (x3max * s3))) : Math.sqrt(x3max * (s2 / x3max + x3max * s3));
  return x3max * Math.sqrt(s3);
}

/** Householder QR of a (columns a[j], m rows) with column pivoting; R's strict upper part stays in a. */
function qrfac(m: number, n: number, a: Float64Array[], ipvt: number[], rdiag: Float64Array, acnorm: Float64Array): void {
  const wa = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    acnorm[j] = enorm(a[j]!, 0, m);
    rdiag[j] = acnorm[j]!;
    wa[j] = rdiag[j]!;
    ipvt[j] = j;
  }
  for (let j = 0; j < Math.min(m, n); j++) {
    let kmax = j;
    for (let k = j; k < n; k++) if (rdiag[k]! > rdiag[kmax]!) kmax = k;
    if (kmax !== j) {
      [a[j], a[kmax]] = [a[kmax]!, a[j]!];
      rdiag[kmax] = rdiag[j]!;
      wa[kmax] = wa[j]!;
      [ipvt[j], ipvt[kmax]] = [ipvt[kmax]!, ipvt[j]!];
    }
    const aj = a[j]!;
    let ajnorm = enorm(aj, j, m);
    if (ajnorm !== 0) {
      if (aj[j]! < 0) ajnorm = -ajnorm;
      for (let i = j; i < m; i++) aj[i]! /= ajnorm;
      aj[j]! += 1;
      for (let k = j + 1; k < n; k++) {
        const ak = a[k]!;
        let sum = 0;
        for (let i = j; i < m; i++) sum += aj[i]! * ak[i]!;
        const temp = sum / aj[j]!;
        for (let i = j; i < m; i++) ak[i]! -= temp * aj[i]!;
        if (rdiag[k] !== 0) {
          const t = ak[j]! / rdiag[k]!;
          rdiag[k]! *= Math.sqrt(Math.max(0, 1 - t * t));
          if (0.05 * (rdiag[k]! / wa[k]!) ** 2 <= EPSMCH) {
            rdiag[k] = enorm(ak, j + 1, m);
            wa[k] = rdiag[k]!;
          }
        }
      }
    }
    rdiag[j] = -ajnorm;
  }
}

/** Solves R z = Q^T b with the diagonal D appended (least squares), x = P z; sdiag gets the new diagonal. */
function qrsolv(n: number, r: Float64Array[], ipvt: number[], diag: Float64Array, qtb: Float64Array, x: Float64Array, sdiag: Float64Array): void {
  const wa = new Float64Array(n);
  // r[j][i] is element (i, j). Copy R's upper triangle to the lower one; keep its diagonal in x.
  for (let j = 0; j < n; j++) {
    for (let i = j; i < n; i++) r[j]![i] = r[i]![j]!;
    x[j] = r[j]![j]!;
    wa[j] = qtb[j]!;
  }
  for (let j = 0; j < n; j++) {
    const l = ipvt[j]!;
    if (diag[l] !== 0) {
      for (let k = j; k < n; k++) sdiag[k] = 0;
      sdiag[j] = diag[l]!;
      let qtbpj = 0;
      for (let k = j; k < n; k++) {
        if (sdiag[k] === 0) continue;
        const rkk = r[k]![k]!;
        let sin: number;
        let cos: number;
        if (Math.abs(rkk) < Math.abs(sdiag[k]!)) {
          const cotan = rkk / sdiag[k]!;
          sin = 0.5 / Math.sqrt(0.25 + 0.25 * cotan * cotan);
          cos = sin * cotan;
        } else {
          const tan = sdiag[k]! / rkk;
          cos = 0.5 / Math.sqrt(0.25 + 0.25 * tan * tan);
          sin = cos * tan;
        }
        r[k]![k] = cos * rkk + sin * sdiag[k]!;
        const temp = cos * wa[k]! + sin * qtbpj;
        qtbpj = -sin * wa[k]! + cos * qtbpj;
        wa[k] = temp;
        for (let i = k + 1; i < n; i++) {
          const t = cos * r[k]![i]! + sin * sdiag[i]!;
          sdiag[i] = -sin * r[k]![i]! + cos * sdiag[i]!;
          r[k]![i] = t;
        }
      }
    }
    sdiag[j] = r[j]![j]!;
    r[j]![j] = x[j]!;
  }
  let nsing = n;
  for (let j = 0; j < n; j++) {
    if (sdiag[j] === 0 && nsing === n) nsing = j;
    if (nsing < n) wa[j] = 0;
  }
  for (let j = nsing - 1; j >= 0; j--) {
    let sum = 0;
    for (let i = j + 1; i < nsing; i++) sum += r[j]![i]! * wa[i]!;
    wa[j] = (wa[j]! - sum) / sdiag[j]!;
  }
  for (let j = 0; j < n; j++) x[ipvt[j]!] = wa[j]!;
}

/** The Levenberg-Marquardt parameter for trust radius delta; returns the new par, the step in x. */
function lmpar(n: number, r: Float64Array[], ipvt: number[], diag: Float64Array, qtb: Float64Array, delta: number, par: number, x: Float64Array): number {
  const sdiag = new Float64Array(n);
  const wa1 = new Float64Array(n);
  const wa2 = new Float64Array(n);
  let nsing = n;
  for (let j = 0; j < n; j++) {
    wa1[j] = qtb[j]!;
    if (r[j]![j] === 0 && nsing === n) nsing = j;
    if (nsing < n) wa1[j] = 0;
  }
  for (let j = nsing - 1; j >= 0; j--) {
    wa1[j]! /= r[j]![j]!;
    const temp = wa1[j]!;
    for (let i = 0; i < j; i++) wa1[i]! -= r[j]![i]! * temp;
  }
  for (let j = 0; j < n; j++) x[ipvt[j]!] = wa1[j]!;
  let iter = 0;
  for (let j = 0; j < n; j++) wa2[j] = diag[j]! * x[j]!;
  let dxnorm = enorm(wa2);
  let fp = dxnorm - delta;
  if (fp <= 0.1 * delta) return 0;
  let parl = 0;
  if (nsing >= n) {
    for (let j = 0; j < n; j++) {
      const l = ipvt[j]!;
      wa1[j] = diag[l]! * (wa2[l]! / dxnorm);
    }
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let i = 0; i < j; i++) sum += r[j]![i]! * wa1[i]!;
      wa1[j] = (wa1[j]! - sum) / r[j]![j]!;
    }
    const temp = enorm(wa1);
    parl = fp / delta / temp / temp;
  }
  for (let j = 0; j < n; j++) {
    let sum = 0;
    for (let i = 0; i <= j; i++) sum += r[j]![i]! * qtb[i]!;
    wa1[j] = sum / diag[ipvt[j]!]!;
  }
  const gnorm = enorm(wa1);
  let paru = gnorm / delta;
  if (paru === 0) paru = DWARF / Math.min(delta, 0.1);
  par = Math.min(Math.max(par, parl), paru);
  if (par === 0) par = gnorm / dxnorm;
  for (;;) {
    iter++;
    if (par === 0) par = Math.max(DWARF, 0.001 * paru);
    const s = Math.sqrt(par);
    for (let j = 0; j < n; j++) wa1[j] = s * diag[j]!;
    qrsolv(n, r, ipvt, wa1, qtb, x, sdiag);
    for (let j = 0; j < n; j++) wa2[j] = diag[j]! * x[j]!;
    dxnorm = enorm(wa2);
    const prev = fp;
    fp = dxnorm - delta;
    if (Math.abs(fp) <= 0.1 * delta || (parl === 0 && fp <= prev && prev < 0) || iter === 10) break;
    for (let j = 0; j < n; j++) {
      const l = ipvt[j]!;
      wa1[j] = diag[l]! * (wa2[l]! / dxnorm);
    }
    for (let j = 0; j < n; j++) {
      wa1[j]! /= sdiag[j]!;
      const temp = wa1[j]!;
      for (let i = j + 1; i < n; i++) wa1[i]! -= r[j]![i]! * temp;
    }
    const temp = enorm(wa1);
    const parc = fp / delta / temp / temp;
    if (fp > 0) parl = Math.max(parl, par);
    if (fp < 0) paru = Math.min(paru, par);
    par = Math.max(parl, par + parc);
  }
  return iter === 0 ? 0 : par;
}

export interface LmdifOptions {
  ftol?: number;
  xtol?: number;
  gtol?: number;
  maxfev?: number;
  epsfcn?: number;
  factor?: number;
  /** Variable scales (MINPACK mode 2), default all 1 (scipy < 1.16); 'jac' for mode 1. */
  diag?: Float64Array | 'jac';
}

export interface LmdifResult {
  x: Float64Array;
  fvec: Float64Array;
  /** MINPACK's info (1-3 converged, 4 gradient, 5 too many evaluations, 6-8 tolerances too small). */
  info: number;
  nfev: number;
}

/** Minimises sum(fcn(x)^2) over x from x0; fcn maps n parameters to m >= n residuals. */
export function lmdif(fcn: (x: Float64Array) => Float64Array, x0: ArrayLike<number>, o: LmdifOptions = {}): LmdifResult {
  const n = x0.length;
  const ftol = o.ftol ?? 1.49012e-8;
  const xtol = o.xtol ?? 1.49012e-8;
  const gtol = o.gtol ?? 0;
  const maxfev = o.maxfev ?? 200 * (n + 1);
  const factor = o.factor ?? 100;
  const mode = o.diag === 'jac' ? 1 : 2;
  const diag = o.diag instanceof Float64Array ? Float64Array.from(o.diag) : new Float64Array(n).fill(1);
  let x = Float64Array.from(x0);
  let fvec = fcn(x);
  const m = fvec.length;
  if (n <= 0 || m < n || ftol < 0 || xtol < 0 || gtol < 0 || factor <= 0 || (mode === 2 && diag.some((d) => d <= 0))) {
    throw new Error(`lmdif: improper input (n ${n}, m ${m})`);
  }
  let nfev = 1;
  let fnorm = enorm(fvec);
  let par = 0;
  let iter = 1;
  let xnorm = 0;
  let delta = 0;
  let info = 0;
  const eps = Math.sqrt(Math.max(o.epsfcn ?? EPSMCH, EPSMCH));
  const ipvt: number[] = new Array(n).fill(0);
  const rdiag = new Float64Array(n);
  const acnorm = new Float64Array(n);
  const qtf = new Float64Array(n);
  for (;;) {
    // Forward-difference Jacobian, column-major.
    const fjac: Float64Array[] = [];
    for (let j = 0; j < n; j++) {
      const temp = x[j]!;
      const h = eps * Math.abs(temp) || eps;
      x[j] = temp + h;
      const wa = fcn(x);
      x[j] = temp;
      const col = new Float64Array(m);
      for (let i = 0; i < m; i++) col[i] = (wa[i]! - fvec[i]!) / h;
      fjac.push(col);
    }
    nfev += n;
    qrfac(m, n, fjac, ipvt, rdiag, acnorm);
    if (iter === 1) {
      if (mode !== 2) for (let j = 0; j < n; j++) diag[j] = acnorm[j] === 0 ? 1 : acnorm[j]!;
      xnorm = enorm(x.map((v, j) => diag[j]! * v));
      delta = factor * xnorm;
      if (delta === 0) delta = factor;
    }
    // Q^T fvec into qtf; the diagonal of R back into fjac.
    const wa4 = Float64Array.from(fvec);
    for (let j = 0; j < n; j++) {
      const col = fjac[j]!;
      if (col[j] !== 0) {
        let sum = 0;
        for (let i = j; i < m; i++) sum += col[i]! * wa4[i]!;
        const temp = -sum / col[j]!;
        for (let i = j; i < m; i++) wa4[i]! += col[i]! * temp;
      }
      col[j] = rdiag[j]!;
      qtf[j] = wa4[j]!;
    }
    let gnorm = 0;
    if (fnorm !== 0) {
      for (let j = 0; j < n; j++) {
        const l = ipvt[j]!;
        if (acnorm[l] === 0) continue;
        let sum = 0;
        for (let i = 0; i <= j; i++) sum += fjac[j]![i]! * (qtf[i]! / fnorm);
        gnorm = Math.max(gnorm, Math.abs(sum / acnorm[l]!));
      }
    }
    if (gnorm <= gtol) info = 4;
    if (info !== 0) break;
    if (mode !== 2) for (let j = 0; j < n; j++) diag[j] = Math.max(diag[j]!, acnorm[j]!);
    // Inner loop: shrink the trust region until a step reduces the norm.
    for (;;) {
      const step = new Float64Array(n);
      par = lmpar(n, fjac, ipvt, diag, qtf, delta, par, step);
      const wa1 = step.map((v) => -v);
      const wa2 = x.map((v, j) => v + wa1[j]!);
      const pnorm = enorm(wa1.map((v, j) => diag[j]! * v));
      if (iter === 1) delta = Math.min(delta, pnorm);
      const f1 = fcn(wa2);
      nfev++;
      const fnorm1 = enorm(f1);
      const actred = 0.1 * fnorm1 < fnorm ? 1 - (fnorm1 / fnorm) ** 2 : -1;
      const wa3 = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        const temp = wa1[ipvt[j]!]!;
        for (let i = 0; i <= j; i++) wa3[i]! += fjac[j]![i]! * temp;
      }
      const temp1 = enorm(wa3) / fnorm;
      const temp2 = (Math.sqrt(par) * pnorm) / fnorm;
      const prered = temp1 * temp1 + (temp2 * temp2) / 0.5;
      const dirder = -(temp1 * temp1 + temp2 * temp2);
      const ratio = prered !== 0 ? actred / prered : 0;
      if (ratio <= 0.25) {
        let temp = actred >= 0 ? 0.5 : (0.5 * dirder) / (dirder + 0.5 * actred);
        if (0.1 * fnorm1 >= fnorm || temp < 0.1) temp = 0.1;
        delta = temp * Math.min(delta, pnorm / 0.1);
        par /= temp;
      } else if (par === 0 || ratio >= 0.75) {
        delta = pnorm / 0.5;
        par *= 0.5;
      }
      if (ratio >= 1e-4) {
        x = wa2;
        xnorm = enorm(x.map((v, j) => diag[j]! * v));
        fvec = f1;
        fnorm = fnorm1;
        iter++;
      }
      const small = Math.abs(actred) <= ftol && prered <= ftol && 0.5 * ratio <= 1;
      if (small) info = 1;
      if (delta <= xtol * xnorm) info = small ? 3 : 2;
      if (info !== 0) break;
      if (nfev >= maxfev) info = 5;
      if (Math.abs(actred) <= EPSMCH && prered <= EPSMCH && 0.5 * ratio <= 1) info = 6;
      if (delta <= EPSMCH * xnorm) info = 7;
      if (gnorm <= EPSMCH) info = 8;
      if (info !== 0) break;
      if (ratio >= 1e-4) break;
    }
    if (info !== 0) break;
  }
  return { x, fvec, info, nfev };
}
