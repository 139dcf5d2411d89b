#!/usr/bin/python3
"""Independent reference for egox's flow samplers (src/model/schedulers/).

Written from the UniPC paper (Zhao et al. 2023, data-prediction form with B(h) = e^{-h} - 1,
"bh2") and from the documented behaviour of diffusers' UniPCMultistepScheduler in the Wan
configuration (flow_prediction, use_flow_sigmas, solver_order 2, predict_x0, lower_order_final,
final sigma 0, rho_p = 0.5 at order 2 and rho_c = 0.5 at order 1). diffusers is not imported.
The UniPC updates are written for a general order p with numpy's linear solver; only the two
fixed rhos are special-cased, as diffusers does. The final sigma = 0 is left to IEEE
arithmetic (lambda = +inf, expm1(-inf) = -1), unlike the TypeScript, which branches on it.

Run with Debian's python (torch + numpy):  /usr/bin/python3 test/reference/schedulers_reference.py
Writes test/golden/schedulers/{sequences,sampling}.json. Float32 tensors are stored as base64
of little-endian float32 bytes.
"""
import base64
import json
import math
import os

import numpy as np
import torch

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "schedulers")
T_TRAIN = 1000


# ---------------------------------------------------------------- sigma schedules
def _shift(u, s):
    return s * u / (1 + (s - 1) * u)


def flow_sigmas(steps, shift, variant):
    """Returns (sigmas float64 [N+1] ending in 0, timesteps int64 [N])."""
    n = steps
    if variant == "diffusers-0.34":
        # raw noise levels 0 .. 0.999, shifted, from the noisiest down, the 0 dropped
        raw = 1.0 - np.linspace(1.0, 1.0 / T_TRAIN, n + 1)
        head = _shift(raw, shift)[::-1][:n].copy()
    elif variant == "diffusers-latest":
        head = _shift(np.linspace(1.0, 1.0 / T_TRAIN, n + 1)[:n], shift)
        if abs(head[0] - 1.0) < 1e-6:
            head[0] -= 1e-6  # keeps log(alpha) finite
    elif variant == "wan-original":
        # Wan builds its table in float32 with shift 1; sigma_max is read back with .item()
        sigma_max = float(np.float32(1.0 - 1.0 / T_TRAIN))
        head = _shift(np.linspace(sigma_max, 0.0, n + 1)[:n], shift)
    else:
        raise ValueError(variant)
    timesteps = np.trunc(head * T_TRAIN).astype(np.int64)
    return np.concatenate([head, [0.0]]), timesteps


# ---------------------------------------------------------------- samplers
class RefUniPC:
    """UniPC-p (predictor UniP + corrector UniC) on flow sigmas.

    dtype: torch dtype of the scalar coefficients and element-wise arithmetic.
    float64 mirrors egox (f64 arithmetic, f32 storage); float32 mimics diffusers' dtypes
    (float32 sigmas, float32 coefficients) and is only reported, not stored as golden.
    """

    def __init__(self, sigmas, order=2, disable_corrector=(), dtype=torch.float64):
        self.dtype = dtype
        self.sig = torch.tensor(sigmas, dtype=torch.float64).to(dtype)
        self.n = len(sigmas) - 1
        self.max_order = order
        self.disable = set(disable_corrector)
        self.i = 0
        self.hist = []  # list of (sigma index, x0 prediction float32)
        self.prev_x = None
        self.prev_order = None

    def _lam(self, k):
        s = self.sig[k]
        return torch.log(1 - s) - torch.log(s)

    def _update(self, x, s_idx, t_idx, hist, order, m_t=None):
        """One UniP (m_t None) or UniC (m_t given) update from sigma[s_idx] to sigma[t_idx].

        hist: newest-first list of (index, x0) with hist[0] at s_idx.
        """
        d = self.dtype
        sig_s, sig_t = self.sig[s_idx], self.sig[t_idx]
        alpha_t = 1 - sig_t
        lam_s, lam_t = self._lam(s_idx), self._lam(t_idx)
        h = lam_t - lam_s
        hh = -h
        m0 = hist[0][1].to(d)
        # r_k and first differences from the older points
        rks, dks = [], []
        for k in range(1, order):
            idx, mk = hist[k]
            rk = (self._lam(idx) - lam_s) / h
            rks.append(rk)
            dks.append((mk.to(d) - m0) / rk)
        hphi1 = torch.expm1(hh)
        bh = torch.expm1(hh)
        # b_k = k! * phi_{k+1}-type terms / B(h);  phi recursion: phi <- phi/hh - 1/k!
        phik = hphi1 / hh - 1
        fact = 1
        b = []
        for k in range(1, order + 1):
            b.append(phik * fact / bh)
            fact *= k + 1
            phik = phik / hh - 1.0 / fact
        nodes = [float(r) for r in rks] + [1.0]
        R = np.array([[r ** (k - 1) for r in nodes] for k in range(1, order + 1)], dtype=np.float64)
        bv = np.array([float(v) for v in b], dtype=np.float64)
        base = (sig_t / sig_s) * x.to(d) - alpha_t * hphi1 * m0
        if m_t is None:  # predictor: uses the p-1 older points
            if order == 1:
                return base
            rho = [0.5] if order == 2 else list(np.linalg.solve(R[:-1, :-1], bv[:-1]))
            res = sum(torch.tensor(rho[k], dtype=d) * dks[k] for k in range(order - 1))
            return base - alpha_t * bh * res
        # corrector: the new point m_t enters with the last rho
        rho = [0.5] if order == 1 else list(np.linalg.solve(R, bv))
        res = sum((torch.tensor(rho[k], dtype=d) * dks[k] for k in range(order - 1)), torch.zeros((), dtype=d))
        res = res + torch.tensor(rho[-1], dtype=d) * (m_t.to(d) - m0)
        return base - alpha_t * bh * res

    def step(self, v, x):
        i, d = self.i, self.dtype
        x0 = (x.to(d) - self.sig[i] * v.to(d)).to(torch.float32)
        if i > 0 and (i - 1) not in self.disable:
            x = self._update(self.prev_x, i - 1, i, self.hist, self.prev_order, m_t=x0).to(torch.float32)
        self.hist = [(i, x0)] + self.hist[: self.max_order - 1]
        order = min(self.max_order, self.n - i, len(self.hist))
        self.prev_x, self.prev_order = x, order
        out = self._update(x, i, i + 1, self.hist, order).to(torch.float32)
        self.i += 1
        return out


class RefEuler:
    def __init__(self, sigmas):
        self.sig = torch.tensor(sigmas, dtype=torch.float64)
        self.i = 0

    def step(self, v, x):
        out = (x.double() + (self.sig[self.i + 1] - self.sig[self.i]) * v.double()).float()
        self.i += 1
        return out


# ---------------------------------------------------------------- toy model and loop
SHAPE = (16, 3, 4, 6)  # [C, F, H, W]
EGO_WIDTH = 2
GUIDANCE = 5.0
CH = np.arange(SHAPE[0], dtype=np.float64)
# v = tanh(x * a_c + (t / 1000) * b_c), one (a, b) pair per channel and branch
COND_A, COND_B = 0.5 + 0.05 * CH, -1.0 + 0.1 * CH
UNCOND_A, UNCOND_B = 0.3 + 0.02 * CH, 0.5 - 0.07 * CH


def toy_model(x, t, a, b):
    xa = x.double().numpy()
    y = np.tanh(xa * a[:, None, None, None] + (t / 1000.0) * b[:, None, None, None])
    return torch.from_numpy(y.astype(np.float32))


def guided_v(x, t):
    vu = toy_model(x, t, UNCOND_A, UNCOND_B).double()
    vc = toy_model(x, t, COND_A, COND_B).double()
    v = (vu + GUIDANCE * (vc - vu)).float()
    v[..., : SHAPE[3] - EGO_WIDTH] = 0.0  # EgoX: only the ego columns are denoised
    return v


def sample(sched, timesteps, x_init):
    x = x_init.clone()
    for t in timesteps:
        x = sched.step(guided_v(x, int(t)), x)
    return x


def b64(t):
    return base64.b64encode(np.ascontiguousarray(t.numpy().astype("<f4")).tobytes()).decode("ascii")


def rel_l2(a, b):
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm())


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    variants = ["diffusers-0.34", "diffusers-latest", "wan-original"]

    seqs = []
    for variant in variants:
        for steps in (40, 50):
            for shift in (3.0, 5.0):
                sig, ts = flow_sigmas(steps, shift, variant)
                seqs.append({"variant": variant, "steps": steps, "shift": shift,
                             "sigmas": [float(s) for s in sig], "timesteps": [int(t) for t in ts]})
    with open(os.path.join(OUT_DIR, "sequences.json"), "w") as f:
        json.dump({"note": "written by test/reference/schedulers_reference.py", "cases": seqs}, f)

    rng = np.random.default_rng(20240607)
    x_init = torch.from_numpy(rng.standard_normal(SHAPE).astype(np.float32))
    runs = [
        ("unipc", 5, "diffusers-0.34", []),
        ("unipc", 12, "diffusers-0.34", []),
        ("unipc", 50, "diffusers-0.34", []),
        ("unipc", 12, "diffusers-latest", []),
        ("unipc", 12, "wan-original", []),
        ("unipc", 12, "diffusers-0.34", [0, 3]),
        ("euler", 5, "diffusers-0.34", []),
        ("euler", 12, "diffusers-0.34", []),
    ]
    results = []
    for name, steps, variant, disable in runs:
        sig, ts = flow_sigmas(steps, 3.0, variant)
        if name == "unipc":
            out = sample(RefUniPC(sig, disable_corrector=disable), ts, x_init)
            out32 = sample(RefUniPC(np.float32(sig).astype(np.float64), disable_corrector=disable,
                                    dtype=torch.float32), ts, x_init)
            note = f"rel L2 of diffusers-like float32 arithmetic vs float64: {rel_l2(out32, out):.3e}"
        else:
            out = sample(RefEuler(sig), ts, x_init)
            note = ""
        exo = SHAPE[3] - EGO_WIDTH
        exo_err = float((out[..., :exo] - x_init[..., :exo]).abs().max())
        print(f"{name:5s} steps={steps:2d} {variant:16s} disable={disable} exo max|diff|={exo_err:.1e} {note}")
        results.append({"sampler": name, "steps": steps, "shift": 3.0, "variant": variant,
                        "disableCorrector": disable, "final": b64(out)})

    doc = {
        "note": "written by test/reference/schedulers_reference.py",
        "shape": list(SHAPE), "egoWidth": EGO_WIDTH, "guidance": GUIDANCE,
        "model": {"condA": COND_A.tolist(), "condB": COND_B.tolist(),
                  "uncondA": UNCOND_A.tolist(), "uncondB": UNCOND_B.tolist()},
        "xInit": b64(x_init), "runs": results,
    }
    with open(os.path.join(OUT_DIR, "sampling.json"), "w") as f:
        json.dump(doc, f)
    sig, ts = flow_sigmas(50, 3.0, "diffusers-0.34")
    print("N=50 s=3 timesteps:", ts[:5].tolist(), "...", ts[-5:].tolist(), "sigma0 %.5f last %.4f" % (sig[0], sig[-2]))
    for v in variants[1:]:
        _, ts = flow_sigmas(50, 3.0, v)
        print(v, ts[:4].tolist(), "...", ts[-3:].tolist())


if __name__ == "__main__":
    main()
