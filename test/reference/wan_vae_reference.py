#!/usr/bin/python3
"""Independent reference for egox's Wan2.1 VAE (src/model/vae/).

Written from ../shared/reference/wan21-architecture.md section 2 and from reading the structure
of diffusers' AutoencoderKLWan (parameter names, the feature-cache rules); diffusers is not
imported. Everything is plain functions over a dict of parameters named exactly as in the
diffusers checkpoint `vae/diffusion_pytorch_model.safetensors`, at tiny channel widths.

Two forward modes, computed in float64:
- chunked: the causal processing of the real pipeline (encode 1, 4, 4, ... frames; decode one
  latent frame at a time) with a per-conv cache of the last input frames, including the quirks
  of the reference (the downsample time conv is skipped on the first chunk and then sees the
  previous chunk's last frame; the upsample time conv is skipped on the first chunk and then
  starts again from zero padding);
- unchunked: the whole clip at once, with those first-frame rules written as explicit formulas.
The two must agree (asserted here), and both are saved so the TypeScript port (chunked) is
checked against each.

Run with Debian's python (torch + numpy):  /usr/bin/python3 test/reference/wan_vae_reference.py
Writes test/golden/vae/{weights.safetensors,cases.safetensors,config.json}.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from wan_vae_safetensors import write_safetensors

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "vae")

CONFIG = {
    "base_dim": 6,  # 96 in Wan2.1 (6 keeps the BF16 weights near 1 MB)
    "z_dim": 16,
    "dim_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "temperal_downsample": [False, True, True],
    # The published per-channel statistics of the Wan2.1 latent space (z_dim 16).
    "latents_mean": [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                     0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921],
    "latents_std": [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                    3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160],
}
CACHE_FRAMES = 2
DT = torch.float64


# ---------------------------------------------------------------- layout (names and shapes)
def encoder_layers(cfg):
    """The encoder's down_blocks list: ('res', in, out) and ('down', dim, temporal)."""
    d = cfg["base_dim"]
    dims = [d * m for m in [1] + cfg["dim_mult"]]
    layers = []
    for i, (cin, cout) in enumerate(zip(dims[:-1], dims[1:])):
        for _ in range(cfg["num_res_blocks"]):
            layers.append(("res", cin, cout))
            cin = cout
        if i != len(cfg["dim_mult"]) - 1:
            layers.append(("down", cout, cfg["temperal_downsample"][i]))
    return layers, dims[-1]


def decoder_blocks(cfg):
    """The decoder's up_blocks: (in, out, upsample mode or None)."""
    d = cfg["base_dim"]
    mult = cfg["dim_mult"]
    dims = [d * m for m in [mult[-1]] + mult[::-1]]
    tup = cfg["temperal_downsample"][::-1]
    blocks = []
    for i, (cin, cout) in enumerate(zip(dims[:-1], dims[1:])):
        if i > 0:
            cin //= 2  # the previous upsample halved the channels
        mode = None
        if i != len(mult) - 1:
            mode = "upsample3d" if tup[i] else "upsample2d"
        blocks.append((cin, cout, mode))
    return blocks, dims


def param_shapes(cfg):
    """Ordered {name: shape} of every parameter, with the diffusers names."""
    shapes = {}

    def conv(name, cout, cin, k):
        shapes[name + ".weight"] = [cout, cin, *k]
        shapes[name + ".bias"] = [cout]

    def rms(name, c, images=False):
        shapes[name + ".gamma"] = [c, 1, 1] if images else [c, 1, 1, 1]

    def res(name, cin, cout):
        rms(name + ".norm1", cin)
        conv(name + ".conv1", cout, cin, (3, 3, 3))
        rms(name + ".norm2", cout)
        conv(name + ".conv2", cout, cout, (3, 3, 3))
        if cin != cout:
            conv(name + ".conv_shortcut", cout, cin, (1, 1, 1))

    def attn(name, c):
        rms(name + ".norm", c, images=True)
        conv(name + ".to_qkv", 3 * c, c, (1, 1))
        conv(name + ".proj", c, c, (1, 1))

    def mid(name, c):
        res(name + ".resnets.0", c, c)
        attn(name + ".attentions.0", c)
        res(name + ".resnets.1", c, c)

    z = cfg["z_dim"]
    layers, top = encoder_layers(cfg)
    conv("encoder.conv_in", cfg["base_dim"], 3, (3, 3, 3))
    for i, layer in enumerate(layers):
        name = f"encoder.down_blocks.{i}"
        if layer[0] == "res":
            res(name, layer[1], layer[2])
        else:
            c = layer[1]
            conv(name + ".resample.1", c, c, (3, 3))
            if layer[2]:
                conv(name + ".time_conv", c, c, (3, 1, 1))
    mid("encoder.mid_block", top)
    rms("encoder.norm_out", top)
    conv("encoder.conv_out", 2 * z, top, (3, 3, 3))
    conv("quant_conv", 2 * z, 2 * z, (1, 1, 1))
    conv("post_quant_conv", z, z, (1, 1, 1))

    blocks, dims = decoder_blocks(cfg)
    conv("decoder.conv_in", dims[0], z, (3, 3, 3))
    mid("decoder.mid_block", dims[0])
    for i, (cin, cout, mode) in enumerate(blocks):
        for j in range(cfg["num_res_blocks"] + 1):
            res(f"decoder.up_blocks.{i}.resnets.{j}", cin if j == 0 else cout, cout)
        if mode is not None:
            up = f"decoder.up_blocks.{i}.upsamplers.0"
            conv(up + ".resample.1", cout // 2, cout, (3, 3))
            if mode == "upsample3d":
                conv(up + ".time_conv", 2 * cout, cout, (3, 1, 1))
    rms("decoder.norm_out", dims[-1])
    conv("decoder.conv_out", 3, dims[-1], (3, 3, 3))
    return shapes


def init_params(cfg, seed):
    """Random weights, rounded to bfloat16 (the golden file stores them as BF16)."""
    g = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith(".gamma"):
            t = 1.0 + 0.2 * torch.randn(shape, generator=g)
        elif name.endswith(".bias"):
            t = 0.1 * torch.randn(shape, generator=g)
        else:
            fan_in = int(np.prod(shape[1:]))
            t = torch.randn(shape, generator=g) / math.sqrt(fan_in)
            if name == "decoder.conv_out.weight":
                t = t * 1.5  # a few decoded values reach the clamp
        params[name] = t.to(torch.bfloat16)
    return params


# ---------------------------------------------------------------- building blocks
def causal_conv3d(x, p, name, pad, cache=None):
    """Conv3d with `pad` = (pt, ph, pw): 2*pt zero frames in front only, ph/pw on both sides.
    Cached frames of the previous chunk replace that many front zero frames."""
    pt, ph, pw = pad
    front = 2 * pt
    if cache is not None and front > 0:
        x = torch.cat([cache, x], dim=2)
        front -= cache.shape[2]
    x = F.pad(x, (pw, pw, ph, ph, front, 0))
    return F.conv3d(x, p[name + ".weight"], p[name + ".bias"])


def rms_norm(x, gamma):
    """F.normalize over channels times sqrt(C) times gamma."""
    c = x.shape[1]
    norm = x.pow(2).sum(dim=1, keepdim=True).sqrt().clamp_min(1e-12)
    return x / norm * math.sqrt(c) * gamma.reshape(1, c, *([1] * (x.dim() - 2)))


def silu(x):
    return x * torch.sigmoid(x)


def cached_conv(x, p, name, state, pad=(1, 1, 1)):
    """A causal conv whose cache holds the last CACHE_FRAMES input frames seen so far."""
    if state is None:
        return causal_conv3d(x, p, name, pad)
    prev = state.get(name)
    keep = x[:, :, -CACHE_FRAMES:]
    if keep.shape[2] < CACHE_FRAMES and prev is not None:
        keep = torch.cat([prev[:, :, -1:], keep], dim=2)
    out = causal_conv3d(x, p, name, pad, prev)
    state[name] = keep
    return out


def per_frame(x, fn):
    """Applies a 2D function to each frame of [1, C, T, H, W]."""
    b, c, t, h, w = x.shape
    y = fn(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w))
    return y.reshape(b, t, *y.shape[1:]).permute(0, 2, 1, 3, 4)


def res_block(x, p, name, state):
    if name + ".conv_shortcut.weight" in p:
        h = causal_conv3d(x, p, name + ".conv_shortcut", (0, 0, 0))
    else:
        h = x
    y = silu(rms_norm(x, p[name + ".norm1.gamma"]))
    y = cached_conv(y, p, name + ".conv1", state)
    y = silu(rms_norm(y, p[name + ".norm2.gamma"]))
    y = cached_conv(y, p, name + ".conv2", state)
    return y + h


def attention_block(x, p, name):
    """Single-head self-attention over the H*W positions of each frame."""
    def frame(f):
        n, c, h, w = f.shape
        y = rms_norm(f, p[name + ".norm.gamma"])
        qkv = F.conv2d(y, p[name + ".to_qkv.weight"], p[name + ".to_qkv.bias"])
        qkv = qkv.reshape(n, 3 * c, h * w).transpose(1, 2)  # [n, HW, 3C]
        q, k, v = qkv[..., :c], qkv[..., c:2 * c], qkv[..., 2 * c:]
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1)
        o = (a @ v).transpose(1, 2).reshape(n, c, h, w)
        return F.conv2d(o, p[name + ".proj.weight"], p[name + ".proj.bias"]) + f
    return per_frame(x, frame)


def mid_block(x, p, name, state):
    x = res_block(x, p, name + ".resnets.0", state)
    x = attention_block(x, p, name + ".attentions.0")
    return res_block(x, p, name + ".resnets.1", state)


def downsample(x, p, name, temporal, state):
    """Zero pad right/bottom, 3x3 stride-2 conv per frame; temporal: a (3,1,1) stride-2 time conv."""
    conv = name + ".resample.1"
    y = per_frame(x, lambda f: F.conv2d(F.pad(f, (0, 1, 0, 1)), p[conv + ".weight"], p[conv + ".bias"], stride=2))
    if not temporal:
        return y
    tc = name + ".time_conv"
    if state is None:
        # The first frame passes alone; then windows [y0 y1 y2], [y2 y3 y4], ...
        if y.shape[2] < 3:
            return y[:, :, :1]
        z = F.conv3d(y, p[tc + ".weight"], p[tc + ".bias"], stride=(2, 1, 1))
        return torch.cat([y[:, :, :1], z], dim=2)
    prev = state.get(name)
    state[name] = y[:, :, -1:]
    if prev is None:
        return y  # first chunk: no time conv
    return F.conv3d(torch.cat([prev, y], dim=2), p[tc + ".weight"], p[tc + ".bias"], stride=(2, 1, 1))


def interleave(x):
    """[1, 2C, T, H, W] -> [1, C, 2T, H, W]: frame 2t from channels [0, C), 2t+1 from [C, 2C)."""
    b, c2, t, h, w = x.shape
    c = c2 // 2
    return x.reshape(b, 2, c, t, h, w).permute(0, 2, 3, 1, 4, 5).reshape(b, c, 2 * t, h, w)


def upsample(x, p, name, mode, state):
    if mode == "upsample3d":
        tc = name + ".time_conv"
        if state is None:
            # The first frame passes alone; the rest is a causal conv from zero padding.
            if x.shape[2] > 1:
                rest = causal_conv3d(x[:, :, 1:], p, tc, (1, 0, 0))
                x = torch.cat([x[:, :, :1], interleave(rest)], dim=2)
        else:
            prev = state.get(name)
            if prev is None:
                state[name] = "first"  # first chunk: no time conv, no cache yet
            else:
                keep = x[:, :, -CACHE_FRAMES:]
                if keep.shape[2] < CACHE_FRAMES:
                    before = torch.zeros_like(keep) if isinstance(prev, str) else prev[:, :, -1:]
                    keep = torch.cat([before, keep], dim=2)
                cache = None if isinstance(prev, str) else prev
                y = causal_conv3d(x, p, tc, (1, 0, 0), cache)
                state[name] = keep
                x = interleave(y)
    conv = name + ".resample.1"
    return per_frame(x, lambda f: F.conv2d(F.interpolate(f, scale_factor=2.0, mode="nearest-exact"),
                                           p[conv + ".weight"], p[conv + ".bias"], padding=1))


# ---------------------------------------------------------------- encoder and decoder
def encoder(x, p, cfg, state):
    layers, _ = encoder_layers(cfg)
    x = cached_conv(x, p, "encoder.conv_in", state)
    for i, layer in enumerate(layers):
        name = f"encoder.down_blocks.{i}"
        if layer[0] == "res":
            x = res_block(x, p, name, state)
        else:
            x = downsample(x, p, name, layer[2], state)
    x = mid_block(x, p, "encoder.mid_block", state)
    x = silu(rms_norm(x, p["encoder.norm_out.gamma"]))
    return cached_conv(x, p, "encoder.conv_out", state)


def decoder(x, p, cfg, state):
    blocks, _ = decoder_blocks(cfg)
    x = cached_conv(x, p, "decoder.conv_in", state)
    x = mid_block(x, p, "decoder.mid_block", state)
    for i, (_, _, mode) in enumerate(blocks):
        for j in range(cfg["num_res_blocks"] + 1):
            x = res_block(x, p, f"decoder.up_blocks.{i}.resnets.{j}", state)
        if mode is not None:
            x = upsample(x, p, f"decoder.up_blocks.{i}.upsamplers.0", mode, state)
    x = silu(rms_norm(x, p["decoder.norm_out.gamma"]))
    return cached_conv(x, p, "decoder.conv_out", state)


def stats(cfg):
    z = cfg["z_dim"]
    mean = torch.tensor(cfg["latents_mean"], dtype=DT).reshape(1, z, 1, 1, 1)
    std = torch.tensor(cfg["latents_std"], dtype=DT).reshape(1, z, 1, 1, 1)
    return mean, std


def encode(frames, p, cfg, chunked):
    """frames [3, F, H, W] in [-1, 1], F = 1 + 4k -> (mu, z normalised) [z_dim, 1 + k, H/8, W/8]."""
    x = frames.unsqueeze(0)
    if chunked:
        state = {}
        outs = [encoder(x[:, :, :1], p, cfg, state)]
        for s in range(1, x.shape[2], 4):
            outs.append(encoder(x[:, :, s:s + 4], p, cfg, state))
        h = torch.cat(outs, dim=2)
    else:
        h = encoder(x, p, cfg, None)
    h = causal_conv3d(h, p, "quant_conv", (0, 0, 0))
    mu = h[:, :cfg["z_dim"]]
    mean, std = stats(cfg)
    return mu[0], ((mu - mean) / std)[0]


def decode(latents, p, cfg, chunked):
    """Normalised latents [z_dim, T, h, w] -> frames [3, 1 + 4(T-1), 8h, 8w] clamped to [-1, 1]."""
    mean, std = stats(cfg)
    z = latents.unsqueeze(0) * std + mean
    x = causal_conv3d(z, p, "post_quant_conv", (0, 0, 0))
    if chunked:
        state = {}
        out = torch.cat([decoder(x[:, :, t:t + 1], p, cfg, state) for t in range(x.shape[2])], dim=2)
    else:
        out = decoder(x, p, cfg, None)
    return out.clamp(-1.0, 1.0)[0]


# ---------------------------------------------------------------- goldens
def rel_l2(a, b):
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    cfg = CONFIG
    p16 = init_params(cfg, seed=20240611)
    p = {k: v.to(DT) for k, v in p16.items()}
    g = torch.Generator().manual_seed(7)
    cases = {}
    report = []
    for (h, w) in [(16, 16), (16, 24)]:
        for nf in [1, 5, 9]:
            key = f"s{h}x{w}_f{nf}"
            # Smooth-ish frames: a low-frequency pattern plus noise, in [-1, 1].
            base = torch.rand(3, nf, h // 4, w // 4, generator=g, dtype=DT) * 2 - 1
            frames = F.interpolate(base.unsqueeze(0), size=(nf, h, w), mode="trilinear", align_corners=False)[0]
            frames = (0.8 * frames + 0.2 * (torch.rand(3, nf, h, w, generator=g, dtype=DT) * 2 - 1)).clamp(-1, 1)
            frames = frames.float().to(DT)  # exactly representable in f32
            mu, z = encode(frames, p, cfg, chunked=True)
            mu_u, z_u = encode(frames, p, cfg, chunked=False)
            t = 1 + (nf - 1) // 4
            latents = torch.randn(cfg["z_dim"], t, h // 8, w // 8, generator=g, dtype=DT).float().to(DT)
            dec = decode(latents, p, cfg, chunked=True)
            dec_u = decode(latents, p, cfg, chunked=False)
            e_mu = rel_l2(mu, mu_u)
            e_dec = rel_l2(dec, dec_u)
            assert e_mu < 1e-10 and e_dec < 1e-10, (key, e_mu, e_dec)
            clamped = float(((dec.abs() >= 1.0).sum() / dec.numel()))
            report.append({"case": key, "encode_chunked_vs_unchunked": e_mu, "decode_chunked_vs_unchunked": e_dec,
                           "decoded_fraction_clamped": clamped, "mu_rms": float(mu.pow(2).mean().sqrt()),
                           "decoded_rms": float(dec.pow(2).mean().sqrt())})
            cases[f"{key}.frames"] = frames.float()
            cases[f"{key}.mu"] = mu.float()
            cases[f"{key}.z"] = z.float()
            cases[f"{key}.latents"] = latents.float()
            cases[f"{key}.decoded"] = dec.float()
            # The unchunked results only where they add something (several chunks).
            if nf > 1:
                cases[f"{key}.z_unchunked"] = z_u.float()
                cases[f"{key}.decoded_unchunked"] = dec_u.float()
    meta = {"config": json.dumps(cfg)}
    write_safetensors(os.path.join(OUT_DIR, "weights.safetensors"), p16, meta)
    write_safetensors(os.path.join(OUT_DIR, "cases.safetensors"), cases, {})
    with open(os.path.join(OUT_DIR, "config.json"), "w") as f:
        json.dump({"config": cfg, "weights_dtype": "BF16",
                   "cases": sorted({k.split(".")[0] for k in cases}), "report": report}, f, indent=1)
        f.write("\n")
    for r in report:
        print(r)
    total = sum(os.path.getsize(os.path.join(OUT_DIR, n)) for n in os.listdir(OUT_DIR))
    print(f"golden bytes: {total}  parameters: {sum(v.numel() for v in p16.values())}")


if __name__ == "__main__":
    main()
