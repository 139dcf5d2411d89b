#!/usr/bin/python3
"""Independent PyTorch reference for egox's Wan2.1 DiT (src/model/): the forward pass with EgoX's
geometry-guided attention (GGA), LoRA formats, original-layout keys and a tiny UniPC + CFG
sampling loop. Written from ../shared/reference/wan21-architecture.md (sections 1, 4, 5) and
egox-official.md (C.4, C.7, C.8, D.3, D.4, E); no diffusers/Wan code is imported.

Run with Debian's python (torch 1.13 + numpy), from anywhere:
    /usr/bin/python3 test/reference/wan_dit_reference.py
Writes test/golden/dit/. Fixed seeds, single-threaded torch: reruns are byte-identical.

=====================================================================================================
FILES (all tensors F32 little-endian safetensors; NAME = case name)
-----------------------------------------------------------------------------------------------------
Forward cases: t2v_square, i2v_square, i2v_egox_nogga, i2v_egox_gga, i2v_egox_gga_lambda05
  NAME.weights.safetensors   tiny random weights, REAL diffusers key names (see DIFFUSERS KEYS)
  NAME.io.safetensors        inputs + expected output:
     x               [in_dim, F, H, W]        latent input
     timestep        [1]                      integer value stored as F32 (e.g. 999.0)
     context         [text_len, text_dim]     real text rows, then zero rows (zero rows NOT masked)
     clip            [image_len, image_dim]   I2V only (image tokens come FIRST in the cross context)
     gga_query_dirs  [L, 3]                   GGA cases only; per query token (exo rows ignored)
     gga_key_dirs    [F, L, 3]                GGA cases only; key dirs used by queries of frame f
                                              (rows of ego KEY tokens are zero, as in EgoX)
     gga_is_ego      [L]                      GGA cases only; 1.0 for ego query tokens else 0.0
     gga_lambda      [1]                      GGA cases only
     out             [out_dim, F, H, W]       expected output
     dbg_*           optional intermediates, for localising a mismatch:
       dbg_sinusoid [freq_dim] (f64-computed, cast), dbg_temb [dim] (e), dbg_timestep_proj [6, dim] (e0),
       dbg_context_emb [image_len + text_len, dim] (= [image tokens ; text tokens] after embedders),
       dbg_patch_tokens [L, dim], dbg_block0 [L, dim] (after block 0), dbg_head [L, 4*out_dim]
       (proj_out output before unpatchify), dbg_gga_bias [L, L] (GGA cases; additive logit bias,
       0 on exo query rows)
  NAME.json                  config (flat; see JSON FIELDS)

LoRA cases (base model = i2v_square weights, same inputs as i2v_square.io):
  lora_peft.safetensors      transformer.blocks.N.attn{1,2}.{to_q,to_k,to_v,to_out.0}.lora_A.weight [r, in]
                             ... .lora_B.weight [out, r]; no alpha (alpha = r)
  lora_kohya.safetensors     lora_unet_blocks_N_{self,cross}_attn_{q,k,v,o}.lora_down.weight [r, in],
                             .lora_up.weight [out, r], .alpha [] (scalar, 2.0 -> alpha/r = 0.5)
  lora_original.safetensors  diffusion_model.blocks.N.{self,cross}_attn.{q,k,v,o}.lora_A.weight,
                             .lora_B.weight; block 0 modules also have .alpha [] = 8.0 (alpha/r = 2),
                             block 1 has none (alpha = r); plus ONE
                             diffusion_model.blocks.0.self_attn.o.diff_b [dim] (bias delta)
  lora_<fmt>.io.safetensors  same tensors as i2v_square.io (x, timestep, context, clip) with `out`
                             = output with the adapter merged at strength 0.8
  lora_<fmt>.json            {format, base, adapter, io, strength, rank, targets: [{module
                             (diffusers name), alpha, scale = strength*alpha/r}], diffB: [...],
                             mergeRule, diffBRule}
  Merge rule: W += strength * (alpha / r) * (B @ A); diff_b rule: bias += strength * diff_b.
  rank r = 4; targets: attn1/attn2 to_q, to_k, to_v, to_out.0 of both blocks (16 linears).

Original layout: original_layout.weights.safetensors = i2v_square weights under ORIGINAL Wan names
  with prefix `model.diffusion_model.` (see ORIGINAL KEYS); its output is i2v_square.io `out`.
  original_layout.json: {case, base, prefix, weights, io}.

Sampling: model = i2v_egox_gga weights (i2v_egox_gga.weights.safetensors), grid F=3 H=4 W=10
  sampling.io.safetensors:
     latents_init [16, F, H, W]   [clean exo | noise] along W (exo = first W - egoCols columns)
     mask         [4, F, H, W]    1 only in latent frame 0, exo columns; 0 elsewhere
     condition    [16, F, H, W]   [clean exo latent | prior latent]
     context_cond [text_len, text_dim], context_uncond [text_len, text_dim] (stand-in for the
                                  empty-prompt embedding), clip [image_len, image_dim],
     gga_query_dirs, gga_key_dirs, gga_is_ego, gga_lambda (as above),
     v_step{i}      [16, F, H, W] guided prediction of step i after the exo columns are zeroed,
     latents_step{i}[16, F, H, W] latents after step i (i = 0..4),
     latents_final  [16, F, H, W] (= latents_step4)
  Per step: input = concat(latents, mask, condition) on channels (36); timestep = trunc(sigma*1000);
  v = v_u + g (v_c - v_u) with g = 5 (v_u uses context_uncond; everything else shared);
  v[..., :W-egoCols] = 0; latents = UniPC.step(v, latents). UniPC = diffusers v0.34 flow config
  (shift 3, order 2, bh2, predict_x0, lower_order_final, final sigma 0); the scheduler comes from
  test/reference/schedulers_reference.py (float64 arithmetic, float32 storage).
  sampling.json: {case, weights, io, model config (flat, as the forward cases), steps, shift,
  guidance, sigmas [steps+1], timesteps [steps], egoCols, exoCols, scheduler}

JSON FIELDS (forward cases; flat object)
  case, weights, io, dim, ffn_dim, num_heads, head_dim, num_layers, in_dim, out_dim, text_dim,
  text_len, text_real_len (rows of context that are non-zero), image_dim (null for T2V),
  image_len (null for T2V), freq_dim, eps (1e-6: block/head LayerNorms and q/k RMSNorms),
  image_eps (1e-5: image-embedder LayerNorms), patch [1,2,2], rope_theta, rope_split [t,h,w]
  (real dims per axis of a head), grid {F,H,W}, tokens {F,H,W,L}, timestep,
  gga null | {lambda, egoTokenCols [first, last], keyDirsEgoZero: true, rule}, egoCols (latent
  columns that are ego; null when not EgoX-like), exoCols, stats {outStd, outMeanAbs,
  relL2_f32_vs_f64}

DIFFUSERS KEYS (Linear weights [out, in]):
  patch_embedding.weight [dim, in_dim, 1, 2, 2], patch_embedding.bias [dim]
  condition_embedder.time_embedder.linear_1 [dim, freq_dim] / linear_2 [dim, dim] (.weight/.bias)
  condition_embedder.time_proj [6*dim, dim]
  condition_embedder.text_embedder.linear_1 [dim, text_dim] / linear_2 [dim, dim]
  condition_embedder.image_embedder.norm1 (.weight/.bias [image_dim]), .ff.net.0.proj
    [image_dim, image_dim], .ff.net.2 [dim, image_dim], .norm2 (.weight/.bias [dim])       (I2V)
  blocks.N.scale_shift_table [1, 6, dim]
  blocks.N.attn1.{to_q,to_k,to_v,to_out.0}.{weight [dim,dim], bias [dim]}, attn1.norm_q.weight,
    attn1.norm_k.weight [dim]
  blocks.N.attn2.* the same, plus add_k_proj, add_v_proj [dim, dim] (+bias), norm_added_k.weight (I2V)
  blocks.N.norm2.weight / .bias [dim]   (affine LayerNorm before cross-attention)
  blocks.N.ffn.net.0.proj [ffn_dim, dim], blocks.N.ffn.net.2 [dim, ffn_dim]
  scale_shift_table [1, 2, dim], proj_out [4*out_dim, dim]

ORIGINAL KEYS: see DIFFUSERS_TO_ORIGINAL below (blocks.N.modulation, self_attn/cross_attn.{q,k,v,o},
  k_img, v_img, norm_k_img, norm3, ffn.0/.2, head.modulation, head.head, time_embedding.0/.2,
  time_projection.1, text_embedding.0/.2, img_emb.proj.0/.1/.3/.4).

Forward conventions: float32 throughout, except the sinusoidal timestep embedding and the RoPE
angles/rotation (float64, cast back to float32). RoPE pairs are ADJACENT (x[2j], x[2j+1]); the
head dim splits into t = d - 4*(d//6), h = w = 2*(d//6) real dims; angle = pos * theta^(-2j/part).
GGA bias (ego query rows only): c = clamp(q_dir[q] . k_dir[frame(q), k], -1, 1);
c' = (lambda > 1) ? (c > 0 ? lambda*c : c) : lambda*c; bias = log(c' + 1 + 1e-6); exo rows: no bias.
Cross-attention splits its context as [first image_len rows = image ; last text_len rows = text]
(diffusers uses the hard-coded 512 text rows; in the tiny configs that number is text_len).
=====================================================================================================
"""
import hashlib
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from safetensors_f32 import read_safetensors, write_safetensors  # noqa: E402
from schedulers_reference import RefUniPC, flow_sigmas  # noqa: E402

OUT_DIR = os.path.join(HERE, "..", "golden", "dit")
torch.set_num_threads(1)

# ---------------------------------------------------------------------------------------- configs
T2V_CFG = dict(dim=48, ffn_dim=96, num_heads=3, head_dim=16, num_layers=2, in_dim=16, out_dim=16,
               text_dim=32, text_len=16, text_real_len=10, image_dim=None, image_len=None)
I2V_SQ_CFG = dict(dim=48, ffn_dim=128, num_heads=2, head_dim=24, num_layers=2, in_dim=36, out_dim=16,
                  text_dim=32, text_len=20, text_real_len=13, image_dim=24, image_len=9)
EGOX_CFG = dict(dim=32, ffn_dim=64, num_heads=2, head_dim=16, num_layers=2, in_dim=36, out_dim=16,
                text_dim=32, text_len=24, text_real_len=17, image_dim=24, image_len=5)
COMMON = dict(freq_dim=256, eps=1e-6, image_eps=1e-5, patch=[1, 2, 2], rope_theta=10000.0)
SQUARE_GRID = dict(F=2, H=8, W=8)
EGOX_GRID = dict(F=3, H=4, W=10)
EGO_COLS = 4  # latent columns; the token grid is 3 x 2 x 5 with ego token columns 3..4
LORA_RANK = 4
LORA_STRENGTH = 0.8


def full_cfg(base):
    cfg = dict(base)
    cfg.update(COMMON)
    d = cfg["head_dim"]
    assert cfg["num_heads"] * d == cfg["dim"]
    hw = 2 * (d // 6)
    cfg["rope_split"] = [d - 2 * hw, hw, hw]
    return cfg


def seed_of(name):
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


# ---------------------------------------------------------------------------------------- weights
# Scales chosen so that every path moves the output by >= ~5% (see the ablation lines printed by
# main): sharper self-attention (q/k norm weights ~2) so RoPE and the GGA bias matter, a weaker
# image value projection so the image path does not dominate.
KNOBS = dict(self_qk=2.0, self_out=2.0, img_v=0.35, sst=0.15)


def make_weights(cfg, rng, knobs=None):
    """Random weights with diffusers names. Linear weights ~ N(0, (0.7/sqrt(fan_in))^2)."""
    kn = dict(KNOBS, **(knobs or {}))
    W = {}
    dim, ffn = cfg["dim"], cfg["ffn_dim"]

    def normal(shape, std):
        return torch.from_numpy((rng.standard_normal(shape) * std).astype(np.float32))

    def linear(name, out_f, in_f, gain=0.7):
        W[name + ".weight"] = normal((out_f, in_f), gain / math.sqrt(in_f))
        W[name + ".bias"] = normal((out_f,), 0.03)

    def norm_w(name, n, bias=False, mean=1.0):
        W[name + ".weight"] = mean + normal((n,), 0.1 * mean)
        if bias:
            W[name + ".bias"] = normal((n,), 0.05)

    fan = cfg["in_dim"] * 4
    W["patch_embedding.weight"] = normal((dim, cfg["in_dim"], 1, 2, 2), 0.8 / math.sqrt(fan))
    W["patch_embedding.bias"] = normal((dim,), 0.03)
    ce = "condition_embedder."
    linear(ce + "time_embedder.linear_1", dim, cfg["freq_dim"], gain=1.0)
    linear(ce + "time_embedder.linear_2", dim, dim)
    linear(ce + "time_proj", 6 * dim, dim)
    linear(ce + "text_embedder.linear_1", dim, cfg["text_dim"])
    linear(ce + "text_embedder.linear_2", dim, dim)
    if cfg["image_dim"] is not None:
        idim = cfg["image_dim"]
        norm_w(ce + "image_embedder.norm1", idim, bias=True)
        linear(ce + "image_embedder.ff.net.0.proj", idim, idim)
        linear(ce + "image_embedder.ff.net.2", dim, idim)
        norm_w(ce + "image_embedder.norm2", dim, bias=True)
    for n in range(cfg["num_layers"]):
        b = f"blocks.{n}."
        W[b + "scale_shift_table"] = normal((1, 6, dim), kn["sst"])
        for a in ("attn1", "attn2"):
            for p in ("to_q", "to_k", "to_v", "to_out.0"):
                linear(b + f"{a}.{p}", dim, dim, gain=kn["self_out"] if (a, p) == ("attn1", "to_out.0") else 0.7)
            qk = kn["self_qk"] if a == "attn1" else 1.0
            norm_w(b + f"{a}.norm_q", dim, mean=qk)
            norm_w(b + f"{a}.norm_k", dim, mean=qk)
        if cfg["image_dim"] is not None:
            linear(b + "attn2.add_k_proj", dim, dim)
            linear(b + "attn2.add_v_proj", dim, dim, gain=kn["img_v"])
            norm_w(b + "attn2.norm_added_k", dim)
        norm_w(b + "norm2", dim, bias=True)
        linear(b + "ffn.net.0.proj", ffn, dim)
        linear(b + "ffn.net.2", dim, ffn)
    W["scale_shift_table"] = normal((1, 2, dim), 0.1)
    linear("proj_out", 4 * cfg["out_dim"], dim)
    return W


# The one name-mapping table diffusers -> original Wan (block-local parts, then global parts).
BLOCK_TO_ORIGINAL = [
    ("scale_shift_table", "modulation"),
    ("attn1.to_q.", "self_attn.q."), ("attn1.to_k.", "self_attn.k."), ("attn1.to_v.", "self_attn.v."),
    ("attn1.to_out.0.", "self_attn.o."), ("attn1.norm_q.", "self_attn.norm_q."),
    ("attn1.norm_k.", "self_attn.norm_k."),
    ("attn2.to_q.", "cross_attn.q."), ("attn2.to_k.", "cross_attn.k."), ("attn2.to_v.", "cross_attn.v."),
    ("attn2.to_out.0.", "cross_attn.o."), ("attn2.norm_q.", "cross_attn.norm_q."),
    ("attn2.norm_k.", "cross_attn.norm_k."), ("attn2.add_k_proj.", "cross_attn.k_img."),
    ("attn2.add_v_proj.", "cross_attn.v_img."), ("attn2.norm_added_k.", "cross_attn.norm_k_img."),
    ("norm2.", "norm3."), ("ffn.net.0.proj.", "ffn.0."), ("ffn.net.2.", "ffn.2."),
]
GLOBAL_TO_ORIGINAL = [
    ("patch_embedding.", "patch_embedding."),
    ("condition_embedder.time_embedder.linear_1.", "time_embedding.0."),
    ("condition_embedder.time_embedder.linear_2.", "time_embedding.2."),
    ("condition_embedder.time_proj.", "time_projection.1."),
    ("condition_embedder.text_embedder.linear_1.", "text_embedding.0."),
    ("condition_embedder.text_embedder.linear_2.", "text_embedding.2."),
    ("condition_embedder.image_embedder.norm1.", "img_emb.proj.0."),
    ("condition_embedder.image_embedder.ff.net.0.proj.", "img_emb.proj.1."),
    ("condition_embedder.image_embedder.ff.net.2.", "img_emb.proj.3."),
    ("condition_embedder.image_embedder.norm2.", "img_emb.proj.4."),
    ("scale_shift_table", "head.modulation"),
    ("proj_out.", "head.head."),
]


def to_original_name(name):
    if name.startswith("blocks."):
        _, n, rest = name.split(".", 2)
        for d, o in BLOCK_TO_ORIGINAL:
            if rest.startswith(d):
                return f"blocks.{n}." + o + rest[len(d):]
        raise KeyError(name)
    for d, o in GLOBAL_TO_ORIGINAL:
        if name.startswith(d):
            return o + name[len(d):]
    raise KeyError(name)


def from_original_name(name):
    """Inverse map, written separately so the self-check exercises both directions."""
    if name.startswith("blocks."):
        _, n, rest = name.split(".", 2)
        for d, o in BLOCK_TO_ORIGINAL:
            if rest.startswith(o):
                return f"blocks.{n}." + d + rest[len(o):]
        raise KeyError(name)
    for d, o in GLOBAL_TO_ORIGINAL:
        if name.startswith(o):
            return d + name[len(o):]
    raise KeyError(name)


# ---------------------------------------------------------------------------------------- forward
def sinusoid(t, n):
    """[cos(t f_i), sin(t f_i)], f_i = 10000^(-i/half), in float64."""
    half = n // 2
    freqs = np.power(10000.0, -np.arange(half, dtype=np.float64) / half)
    arg = float(t) * freqs
    return torch.from_numpy(np.concatenate([np.cos(arg), np.sin(arg)]))


def rope_angles(cfg, f, h, w):
    """float64 [L, head_dim/2]: per token (frame, row, col order, col fastest) and complex pair."""
    d_t, d_h, d_w = cfg["rope_split"]
    theta = cfg["rope_theta"]
    ff, hh, ww = np.meshgrid(np.arange(f), np.arange(h), np.arange(w), indexing="ij")
    cols = []
    for pos, part in ((ff, d_t), (hh, d_h), (ww, d_w)):
        inv = np.power(theta, -np.arange(0, part, 2, dtype=np.float64) / part)  # part/2 freqs
        cols.append(pos.reshape(-1, 1).astype(np.float64) * inv[None, :])
    return torch.from_numpy(np.concatenate(cols, axis=1))


def apply_rope(x, ang):
    """x [L, heads, hd]; rotate adjacent pairs (x[2j], x[2j+1]) by ang[L, hd/2] in float64."""
    L, nh, hd = x.shape
    xd = x.double().reshape(L, nh, hd // 2, 2)
    re, im = xd[..., 0], xd[..., 1]
    c, s = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
    out = torch.stack([re * c - im * s, re * s + im * c], dim=-1)
    return out.reshape(L, nh, hd).to(x.dtype)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def attention(q, k, v, bias=None):
    """q [Lq, h, d], k/v [Lk, h, d]; softmax(q k^T / sqrt(d) + bias) v -> [Lq, h*d]."""
    scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(q.shape[-1])
    if bias is not None:
        scores = scores + bias[None]
    p = torch.softmax(scores, dim=-1)
    o = torch.einsum("hqk,khd->qhd", p, v)
    return o.reshape(q.shape[0], -1)


def gga_bias(qdir, kdir, is_ego, lam, tokens_per_frame, wrong=None):
    """Additive [L, L] logit bias; ego query rows only (exo rows get 0 = no bias).
    wrong: diagnostic-only deliberate mistakes ("keyframe": key dirs chosen by the key's frame;
    "scaleall": lambda applied to negative cosines too), to show the golden output catches them."""
    L = qdir.shape[0]
    frame = torch.arange(L) // tokens_per_frame
    if wrong == "keyframe":
        c = torch.einsum("qd,kd->qk", qdir, kdir[frame, torch.arange(L)]).clamp(-1.0, 1.0)
    else:
        c = torch.einsum("qd,qkd->qk", qdir, kdir[frame]).clamp(-1.0, 1.0)
    if lam > 1.0 and wrong != "scaleall":
        c = torch.where(c > 0, c * lam, c)
    else:
        c = c * lam
    bias = torch.log(c + 1.0 + 1e-6)
    return torch.where(is_ego[:, None] > 0.5, bias, torch.zeros_like(bias))


class Linears:
    """Linear layers from a weight dict; optional runtime-fused LoRA:
    y = W x + b + scale * B (A x) (+ strength * diff_b on the bias)."""

    def __init__(self, W, dtype, lora=None):
        self.W = {k: v.to(dtype) for k, v in W.items()}
        self.lora = {}
        for mod, (A, B, scale, diff_b) in (lora or {}).items():
            self.lora[mod] = (A.to(dtype), B.to(dtype), scale, None if diff_b is None else diff_b.to(dtype))

    def __call__(self, x, name):
        y = x @ self.W[name + ".weight"].T + self.W[name + ".bias"]
        if name in self.lora:
            A, B, scale, diff_b = self.lora[name]
            y = y + scale * ((x @ A.T) @ B.T)
            if diff_b is not None:
                y = y + diff_b
        return y

    def __getitem__(self, name):
        return self.W[name]


def wan_forward(W, cfg, x, t, context, clip=None, gga=None, dtype=torch.float32, lora=None,
                ablate=(), debug=None):
    """Wan2.1 DiT forward, batch 1. x [C_in, F, H, W] -> [C_out, F, H, W]."""
    P = Linears(W, dtype, lora)
    dim, nh, hd, eps = cfg["dim"], cfg["num_heads"], cfg["head_dim"], cfg["eps"]
    x = x.to(dtype)
    C, Fr, H, Wd = x.shape
    f, h, w = Fr, H // 2, Wd // 2
    L = f * h * w

    # 1. patch embedding (Conv3d, kernel = stride = (1,2,2)); tokens in (frame, row, col) order
    y = F.conv3d(x[None], P["patch_embedding.weight"], P["patch_embedding.bias"], stride=(1, 2, 2))
    tokens = y[0].reshape(dim, L).T.contiguous()

    # 2. time: sinusoid (float64) -> Linear -> SiLU -> Linear = e; SiLU -> Linear = e0 [6, dim]
    s = sinusoid(t, cfg["freq_dim"]).to(dtype)
    ce = "condition_embedder."
    e = P(F.silu(P(s, ce + "time_embedder.linear_1")), ce + "time_embedder.linear_2")
    e0 = P(F.silu(e), ce + "time_proj").reshape(6, dim)

    # 3. text: Linear -> GELU(tanh) -> Linear; 4. image: LN -> Linear -> GELU -> Linear -> LN
    ctx = context.to(dtype)
    ctx_t = P(F.gelu(P(ctx, ce + "text_embedder.linear_1"), approximate="tanh"), ce + "text_embedder.linear_2")
    ctx_i = None
    if cfg["image_dim"] is not None:
        ie = ce + "image_embedder."
        hi = F.layer_norm(clip.to(dtype), (cfg["image_dim"],), P[ie + "norm1.weight"], P[ie + "norm1.bias"],
                          cfg["image_eps"])
        hi = P(F.gelu(P(hi, ie + "ff.net.0.proj")), ie + "ff.net.2")
        ctx_i = F.layer_norm(hi, (dim,), P[ie + "norm2.weight"], P[ie + "norm2.bias"], cfg["image_eps"])

    ang = rope_angles(cfg, f, h, w)
    bias = None
    if gga is not None and "gga" not in ablate:
        bias = gga_bias(gga["query_dirs"].to(dtype), gga["key_dirs"].to(dtype), gga["is_ego"].to(dtype),
                        float(gga["lambda"]), h * w,
                        wrong=next((a[4:] for a in ablate if a.startswith("gga_")), None))
    if debug is not None:
        debug["dbg_sinusoid"] = s
        debug["dbg_temb"] = e
        debug["dbg_timestep_proj"] = e0
        debug["dbg_context_emb"] = ctx_t if ctx_i is None else torch.cat([ctx_i, ctx_t], 0)
        debug["dbg_patch_tokens"] = tokens
        if bias is not None:
            debug["dbg_gga_bias"] = bias

    def ln(v):
        return F.layer_norm(v, (dim,), None, None, eps)

    xs = tokens
    for n in range(cfg["num_layers"]):
        b = f"blocks.{n}."
        mod = P[b + "scale_shift_table"][0] + e0
        shift1, scale1, gate1, shift2, scale2, gate2 = mod.unbind(0)

        # self-attention
        hs = ln(xs) * (1 + scale1) + shift1
        q = rms_norm(P(hs, b + "attn1.to_q"), P[b + "attn1.norm_q.weight"], eps).reshape(L, nh, hd)
        k = rms_norm(P(hs, b + "attn1.to_k"), P[b + "attn1.norm_k.weight"], eps).reshape(L, nh, hd)
        v = P(hs, b + "attn1.to_v").reshape(L, nh, hd)
        if "rope" not in ablate:
            q, k = apply_rope(q, ang), apply_rope(k, ang)
        a = P(attention(q, k, v, bias), b + "attn1.to_out.0")
        if "self_attn" not in ablate:
            xs = xs + gate1 * a

        # cross-attention over [image tokens ; text tokens]; no gate
        hc = F.layer_norm(xs, (dim,), P[b + "norm2.weight"], P[b + "norm2.bias"], eps)
        q = rms_norm(P(hc, b + "attn2.to_q"), P[b + "attn2.norm_q.weight"], eps).reshape(L, nh, hd)
        k = rms_norm(P(ctx_t, b + "attn2.to_k"), P[b + "attn2.norm_k.weight"], eps).reshape(-1, nh, hd)
        v = P(ctx_t, b + "attn2.to_v").reshape(-1, nh, hd)
        o = attention(q, k, v)
        if "txt_attn" in ablate:
            o = torch.zeros_like(o)
        if ctx_i is not None and "img_attn" not in ablate:
            ki = rms_norm(P(ctx_i, b + "attn2.add_k_proj"), P[b + "attn2.norm_added_k.weight"], eps)
            vi = P(ctx_i, b + "attn2.add_v_proj")
            o = o + attention(q, ki.reshape(-1, nh, hd), vi.reshape(-1, nh, hd))
        xs = xs + P(o, b + "attn2.to_out.0")

        # gated FFN
        hf = ln(xs) * (1 + scale2) + shift2
        ff = P(F.gelu(P(hf, b + "ffn.net.0.proj"), approximate="tanh"), b + "ffn.net.2")
        if "ffn" not in ablate:
            xs = xs + gate2 * ff
        if debug is not None and n == 0:
            debug["dbg_block0"] = xs

    # head: (shift, scale) = table + e  (e, not e0)
    shift, scale = (P["scale_shift_table"][0] + e).unbind(0)
    out = P(ln(xs) * (1 + scale) + shift, "proj_out")  # [L, 4*out_dim], channel = (ph*2+pw)*C + c
    if debug is not None:
        debug["dbg_head"] = out
    co = cfg["out_dim"]
    out = out.reshape(f, h, w, 2, 2, co).permute(5, 0, 1, 3, 2, 4).reshape(co, Fr, H, Wd)
    return out


def patchify_by_hand(W, x):
    """Patch embedding written as an explicit gather + matmul, to cross-check the Conv3d."""
    C, Fr, H, Wd = x.shape
    w = W["patch_embedding.weight"]  # [dim, C, 1, 2, 2]
    p = x.reshape(C, Fr, H // 2, 2, Wd // 2, 2).permute(1, 2, 4, 0, 3, 5).reshape(-1, C * 4)
    return p @ w.reshape(w.shape[0], -1).T + W["patch_embedding.bias"]


# ---------------------------------------------------------------------------------------- inputs
def make_inputs(cfg, grid, rng, t, lam=None):
    def normal(shape, std=1.0):
        return torch.from_numpy((rng.standard_normal(shape) * std).astype(np.float32))

    io = {"x": normal((cfg["in_dim"], grid["F"], grid["H"], grid["W"])),
          "timestep": torch.tensor([float(t)], dtype=torch.float32)}
    ctx = torch.zeros(cfg["text_len"], cfg["text_dim"])
    ctx[: cfg["text_real_len"]] = normal((cfg["text_real_len"], cfg["text_dim"]))
    io["context"] = ctx
    if cfg["image_dim"] is not None:
        io["clip"] = normal((cfg["image_len"], cfg["image_dim"]))
    if lam is not None:
        io.update(make_gga(grid, rng, lam))
    return io


def make_gga(grid, rng, lam):
    """Random direction vectors with magnitudes in [0.55, 0.95] (pooled averages of unit vectors
    have magnitude <= 1; staying below 0.95 keeps log(c'+1) away from its singular point)."""
    f, h, w = grid["F"], grid["H"] // 2, grid["W"] // 2
    L = f * h * w
    ego_first = (grid["W"] - EGO_COLS) // 2

    def dirs(n):
        v = rng.standard_normal((n, 3))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return v * rng.uniform(0.55, 0.95, size=(n, 1))

    col = np.tile(np.arange(w), f * h)
    is_ego = (col >= ego_first).astype(np.float32)
    qd = dirs(L).astype(np.float32)
    kd = np.stack([dirs(L) for _ in range(f)]).astype(np.float32)
    kd[:, is_ego > 0.5, :] = 0.0  # ego KEY tokens carry a zero vector (EgoX zeroes them)
    return {"gga_query_dirs": torch.from_numpy(qd), "gga_key_dirs": torch.from_numpy(kd),
            "gga_is_ego": torch.from_numpy(is_ego), "gga_lambda": torch.tensor([float(lam)])}


def gga_of(io):
    if "gga_query_dirs" not in io:
        return None
    return {"query_dirs": io["gga_query_dirs"], "key_dirs": io["gga_key_dirs"],
            "is_ego": io["gga_is_ego"], "lambda": float(io["gga_lambda"][0])}


def run_case(W, cfg, io, dtype=torch.float32, lora=None, ablate=(), debug=None):
    return wan_forward(W, cfg, io["x"], float(io["timestep"][0]), io["context"], io.get("clip"),
                       gga_of(io), dtype=dtype, lora=lora, ablate=ablate, debug=debug)


def rel_l2(a, b):
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm())


def np_dict(d):
    return {k: v.detach().cpu().float().numpy() for k, v in d.items()}


def cfg_json(name, cfg, grid, t, lam, ego_cols):
    doc = {"case": name, "weights": f"{name}.weights.safetensors", "io": f"{name}.io.safetensors"}
    for k in ("dim", "ffn_dim", "num_heads", "head_dim", "num_layers", "in_dim", "out_dim", "text_dim",
              "text_len", "text_real_len", "image_dim", "image_len", "freq_dim", "eps", "image_eps", "patch",
              "rope_theta", "rope_split"):
        doc[k] = cfg[k]
    f, h, w = grid["F"], grid["H"] // 2, grid["W"] // 2
    doc["grid"] = dict(grid)
    doc["tokens"] = {"F": f, "H": h, "W": w, "L": f * h * w}
    doc["timestep"] = int(t)
    doc["gga"] = None if lam is None else {
        "lambda": lam, "egoTokenCols": [(grid["W"] - ego_cols) // 2, w - 1], "keyDirsEgoZero": True,
        "rule": "ego query rows: c=clamp(q.k[frame(q)],-1,1); c'=(lambda>1)?(c>0?lambda*c:c):lambda*c; "
                "bias=log(c'+1+1e-6); exo rows unbiased"}
    doc["egoCols"] = ego_cols
    doc["exoCols"] = None if ego_cols is None else grid["W"] - ego_cols
    return doc


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")


# ---------------------------------------------------------------------------------------- LoRA
LORA_TARGETS = [("attn1", "to_q", "self_attn", "q"), ("attn1", "to_k", "self_attn", "k"),
                ("attn1", "to_v", "self_attn", "v"), ("attn1", "to_out.0", "self_attn", "o"),
                ("attn2", "to_q", "cross_attn", "q"), ("attn2", "to_k", "cross_attn", "k"),
                ("attn2", "to_v", "cross_attn", "v"), ("attn2", "to_out.0", "cross_attn", "o")]


def make_lora(fmt, cfg, rng):
    """Returns (adapter tensors with the format's key names, {diffusers module: (A, B, alpha, diff_b)})."""
    dim, r = cfg["dim"], LORA_RANK
    tensors, mods = {}, {}
    for n in range(cfg["num_layers"]):
        for a, p, oa, op in LORA_TARGETS:
            A = (rng.standard_normal((r, dim)) / math.sqrt(dim)).astype(np.float32)
            B = (rng.standard_normal((dim, r)) * 0.25 / math.sqrt(r)).astype(np.float32)
            module = f"blocks.{n}.{a}.{p}"
            alpha, diff_b = float(r), None
            if fmt == "peft":
                tensors[f"transformer.{module}.lora_A.weight"] = A
                tensors[f"transformer.{module}.lora_B.weight"] = B
            elif fmt == "kohya":
                key = f"lora_unet_blocks_{n}_{oa}_{op}"
                alpha = 2.0
                tensors[key + ".lora_down.weight"] = A
                tensors[key + ".lora_up.weight"] = B
                tensors[key + ".alpha"] = np.array(alpha, dtype=np.float32)
            elif fmt == "original":
                key = f"diffusion_model.blocks.{n}.{oa}.{op}"
                tensors[key + ".lora_A.weight"] = A
                tensors[key + ".lora_B.weight"] = B
                if n == 0:
                    alpha = 8.0
                    tensors[key + ".alpha"] = np.array(alpha, dtype=np.float32)
                if n == 0 and oa == "self_attn" and op == "o":
                    diff_b = (rng.standard_normal((dim,)) * 0.1).astype(np.float32)
                    tensors[key + ".diff_b"] = diff_b
            else:
                raise ValueError(fmt)
            mods[module] = (torch.from_numpy(A), torch.from_numpy(B), alpha,
                            None if diff_b is None else torch.from_numpy(diff_b))
    return tensors, mods


def merge_lora(W, mods, strength):
    """W += strength * (alpha/r) * B @ A; bias += strength * diff_b. Delta formed in float64."""
    M = dict(W)
    for module, (A, B, alpha, diff_b) in mods.items():
        scale = strength * alpha / A.shape[0]
        M[module + ".weight"] = (W[module + ".weight"].double() + scale * (B.double() @ A.double())).float()
        if diff_b is not None:
            M[module + ".bias"] = (W[module + ".bias"].double() + strength * diff_b.double()).float()
    return M


def fused_lora(mods, strength):
    return {m: (A, B, strength * alpha / A.shape[0], None if d is None else strength * d)
            for m, (A, B, alpha, d) in mods.items()}


# ---------------------------------------------------------------------------------------- sampling
def sample(W, cfg, s_io, steps, shift, guidance, ego_cols, record=None, dtype=torch.float32):
    sig, ts = flow_sigmas(steps, shift, "diffusers-0.34")
    sched = RefUniPC(sig)
    gga = gga_of(s_io)
    x = s_io["latents_init"].clone()
    exo = x.shape[-1] - ego_cols
    for i, t in enumerate(ts):
        inp = torch.cat([x, s_io["mask"], s_io["condition"]], 0)
        vc = wan_forward(W, cfg, inp, float(t), s_io["context_cond"], s_io["clip"], gga, dtype=dtype).float()
        vu = wan_forward(W, cfg, inp, float(t), s_io["context_uncond"], s_io["clip"], gga, dtype=dtype).float()
        v = vu + guidance * (vc - vu)
        v[..., :exo] = 0.0  # EgoX: the exo columns stay clean
        x = sched.step(v, x)
        if record is not None:
            record[f"v_step{i}"] = v.clone()
            record[f"latents_step{i}"] = x.clone()
    return x, sig, ts


# ---------------------------------------------------------------------------------------- main
def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    report = []

    cases = [
        ("t2v_square", T2V_CFG, SQUARE_GRID, 999, None, None),
        ("i2v_square", I2V_SQ_CFG, SQUARE_GRID, 512, None, None),
        ("i2v_egox_nogga", EGOX_CFG, EGOX_GRID, 757, None, EGO_COLS),
        ("i2v_egox_gga", EGOX_CFG, EGOX_GRID, 757, 3.0, EGO_COLS),
        ("i2v_egox_gga_lambda05", EGOX_CFG, EGOX_GRID, 757, 0.5, EGO_COLS),
    ]
    egox_weights = make_weights(full_cfg(EGOX_CFG), np.random.default_rng(seed_of("egox-weights")))
    egox_inputs_rng_seed = seed_of("egox-inputs")
    saved = {}
    for name, base, grid, t, lam, ego in cases:
        cfg = full_cfg(base)
        if base is EGOX_CFG:
            # the three EgoX cases share weights and x/context/clip; only the GGA tensors differ
            W = egox_weights
            io = make_inputs(cfg, grid, np.random.default_rng(egox_inputs_rng_seed), t)
            if lam is not None:
                io.update(make_gga(grid, np.random.default_rng(seed_of("egox-gga")), lam))
        else:
            W = make_weights(cfg, np.random.default_rng(seed_of(name + "-weights")))
            io = make_inputs(cfg, grid, np.random.default_rng(seed_of(name + "-inputs")), t, lam)
        dbg = {}
        out = run_case(W, cfg, io, debug=dbg)
        out64 = run_case(W, cfg, io, dtype=torch.float64)
        err64 = rel_l2(out, out64)
        # the Conv3d patch embedding equals an explicit patch gather + matmul
        pe = float((patchify_by_hand(W, io["x"]) - dbg["dbg_patch_tokens"]).abs().max())
        io_out = dict(io)
        io_out["out"] = out
        io_out.update(dbg)
        write_safetensors(os.path.join(OUT_DIR, f"{name}.weights.safetensors"), np_dict(W))
        write_safetensors(os.path.join(OUT_DIR, f"{name}.io.safetensors"), np_dict(io_out))
        doc = cfg_json(name, cfg, grid, t, lam, ego)
        doc["stats"] = {"outStd": float(out.std()), "outMeanAbs": float(out.abs().mean()),
                        "relL2_f32_vs_f64": err64}
        write_json(os.path.join(OUT_DIR, f"{name}.json"), doc)
        saved[name] = (W, cfg, io, out)
        report.append(f"{name:24s} out {tuple(out.shape)} std {float(out.std()):.4f}  "
                      f"f32 vs f64 relL2 {err64:.2e}  conv-vs-gather {pe:.1e}")

        # sensitivity: how much each path moves the output (all should be clearly non-zero)
        abl = ["rope", "self_attn", "txt_attn", "ffn"]
        if cfg["image_dim"] is not None:
            abl.append("img_attn")
        if lam is not None:
            abl += ["gga", "gga_keyframe"] + (["gga_scaleall"] if lam > 1 else [])
        parts = [f"{a}={rel_l2(run_case(W, cfg, io, ablate=(a,)), out):.3f}" for a in abl]
        io_t = dict(io)
        io_t["timestep"] = io["timestep"] - 1
        parts.append(f"t-1={rel_l2(run_case(W, cfg, io_t), out):.1e}")
        io_p = dict(io)
        io_p["context"] = io["context"].clone()
        io_p["context"][cfg["text_real_len"]:] = 0.5  # padded rows matter (they are not masked)
        parts.append(f"padrows={rel_l2(run_case(W, cfg, io_p), out):.1e}")
        report.append("    ablation relL2: " + " ".join(parts))

    # reload from disk: the files reproduce the stored output exactly
    for name in saved:
        Wd, _ = read_safetensors(os.path.join(OUT_DIR, f"{name}.weights.safetensors"))
        iod, _ = read_safetensors(os.path.join(OUT_DIR, f"{name}.io.safetensors"))
        Wd = {k: torch.from_numpy(v) for k, v in Wd.items()}
        iod = {k: torch.from_numpy(v) for k, v in iod.items()}
        again = run_case(Wd, saved[name][1], iod)
        assert torch.equal(again, iod["out"]), name

    # original layout
    W, cfg, io, out = saved["i2v_square"]
    orig = {"model.diffusion_model." + to_original_name(k): v for k, v in W.items()}
    write_safetensors(os.path.join(OUT_DIR, "original_layout.weights.safetensors"), np_dict(orig))
    write_json(os.path.join(OUT_DIR, "original_layout.json"), {
        "case": "original_layout", "base": "i2v_square", "prefix": "model.diffusion_model.",
        "weights": "original_layout.weights.safetensors", "io": "i2v_square.io.safetensors",
        "config": "i2v_square.json"})
    od, _ = read_safetensors(os.path.join(OUT_DIR, "original_layout.weights.safetensors"))
    back = {from_original_name(k[len("model.diffusion_model."):]): torch.from_numpy(v) for k, v in od.items()}
    assert sorted(back) == sorted(W)
    assert torch.equal(run_case(back, cfg, io), out)
    report.append(f"original_layout: {len(orig)} tensors, maps back to the diffusers names, same output")

    # LoRA formats
    for fmt in ("peft", "kohya", "original"):
        tensors, mods = make_lora(fmt, cfg, np.random.default_rng(seed_of("lora-" + fmt)))
        Wm = merge_lora(W, mods, LORA_STRENGTH)
        lout = run_case(Wm, cfg, io)
        fused = run_case(W, cfg, io, lora=fused_lora(mods, LORA_STRENGTH))
        write_safetensors(os.path.join(OUT_DIR, f"lora_{fmt}.safetensors"), tensors)
        lio = {k: io[k] for k in ("x", "timestep", "context", "clip")}
        lio["out"] = lout
        write_safetensors(os.path.join(OUT_DIR, f"lora_{fmt}.io.safetensors"), np_dict(lio))
        targets = [{"module": m, "alpha": a, "scale": LORA_STRENGTH * a / LORA_RANK}
                   for m, (_, _, a, _) in mods.items()]
        diffb = [m for m, (_, _, _, d) in mods.items() if d is not None]
        write_json(os.path.join(OUT_DIR, f"lora_{fmt}.json"), {
            "case": f"lora_{fmt}", "format": fmt, "base": "i2v_square",
            "weights": "i2v_square.weights.safetensors", "adapter": f"lora_{fmt}.safetensors",
            "io": f"lora_{fmt}.io.safetensors", "config": "i2v_square.json",
            "strength": LORA_STRENGTH, "rank": LORA_RANK, "targets": targets, "diffB": diffb,
            "mergeRule": "W += strength * (alpha / rank) * (B @ A); alpha absent -> alpha = rank",
            "diffBRule": "bias += strength * diff_b",
            "stats": {"outStd": float(lout.std()), "relL2_vs_base": rel_l2(lout, out),
                      "relL2_merged_vs_fused": rel_l2(fused, lout)}})
        report.append(f"lora_{fmt:9s} {len(tensors)} tensors, out std {float(lout.std()):.4f}, "
                      f"relL2 vs base {rel_l2(lout, out):.3f}, merged vs fused {rel_l2(fused, lout):.1e}")

    # sampling loop with the i2v_egox_gga model
    W, cfg, io, _ = saved["i2v_egox_gga"]
    grid = EGOX_GRID
    rng = np.random.default_rng(seed_of("sampling"))
    Fr, H, Wd = grid["F"], grid["H"], grid["W"]
    exo = Wd - EGO_COLS

    def normal(shape, std=1.0):
        return torch.from_numpy((rng.standard_normal(shape) * std).astype(np.float32))

    exo_lat = normal((16, Fr, H, exo))
    noise = normal((16, Fr, H, EGO_COLS))
    prior = normal((16, Fr, H, EGO_COLS), 0.8)
    mask = torch.zeros(4, Fr, H, Wd)
    mask[:, 0, :, :exo] = 1.0
    ctx_u = torch.zeros(cfg["text_len"], cfg["text_dim"])
    ctx_u[:3] = normal((3, cfg["text_dim"]))  # an "empty prompt" still has a few real tokens
    s_io = {"latents_init": torch.cat([exo_lat, noise], -1), "mask": mask,
            "condition": torch.cat([exo_lat, prior], -1), "context_cond": io["context"],
            "context_uncond": ctx_u, "clip": io["clip"]}
    for k in ("gga_query_dirs", "gga_key_dirs", "gga_is_ego", "gga_lambda"):
        s_io[k] = io[k]
    steps, shift, guidance = 5, 3.0, 5.0
    rec = {}
    final, sig, ts = sample(W, cfg, s_io, steps, shift, guidance, EGO_COLS, record=rec)
    final64, _, _ = sample(W, cfg, s_io, steps, shift, guidance, EGO_COLS, dtype=torch.float64)
    err64 = rel_l2(final[..., exo:], final64[..., exo:])
    s_io.update(rec)
    s_io["latents_final"] = final
    write_safetensors(os.path.join(OUT_DIR, "sampling.io.safetensors"), np_dict(s_io))
    exo_drift = float((final[..., :exo] - exo_lat).abs().max())
    doc = cfg_json("sampling", cfg, grid, ts[0], 3.0, EGO_COLS)
    doc.update({"weights": "i2v_egox_gga.weights.safetensors", "io": "sampling.io.safetensors",
                "steps": steps, "shift": shift, "guidance": guidance,
                "scheduler": "unipc diffusers-0.34 flow (order 2, bh2, predict_x0, lower_order_final, final sigma 0)",
                "sigmas": [float(s) for s in sig], "timesteps": [int(t) for t in ts],
                "channels": "input = concat(latents 0..15, mask 16..19, condition 20..35)"})
    del doc["timestep"]
    doc["stats"] = {"finalStd": float(final.std()), "egoFinalStd": float(final[..., exo:].std()),
                    "exoMaxDrift": exo_drift, "egoRelL2_f32_vs_f64_model": err64}
    write_json(os.path.join(OUT_DIR, "sampling.json"), doc)
    report.append(f"sampling: timesteps {[int(t) for t in ts]}, final ego std {float(final[..., exo:].std()):.4f}, "
                  f"exo max drift {exo_drift:.1e}, ego f32-vs-f64-model relL2 {err64:.1e}, v_step0 std {float(rec['v_step0'].std()):.3f}")

    total = 0
    for fn in sorted(os.listdir(OUT_DIR)):
        total += os.path.getsize(os.path.join(OUT_DIR, fn))
    report.append(f"total golden size {total / 1e6:.2f} MB in {len(os.listdir(OUT_DIR))} files")
    print("\n".join(report))


if __name__ == "__main__":
    main()
