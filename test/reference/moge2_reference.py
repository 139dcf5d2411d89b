#!/usr/bin/python3
"""Independent PyTorch reference of the MoGe-2 network (microsoft/MoGe, moge/model/v2.py) on tiny
random weights, written from the structure of the paper's model with the official parameter
names, so the state dict matches a published model.pt. Nothing of the MoGe code is imported.

Network, on an image [1, 3, H, W] in 0..1 and a token budget T:
  aspect a = W / H; grid (h, w) = (round(sqrt(T / a)), round(sqrt(T * a)))
  encoder: image resized to (14h, 14w) (bilinear, align_corners False, antialias), normalised by
    ImageNet mean/std; DINOv2 ViT/14: patch conv, [cls ; patches] + position embedding (the
    37x37 table bicubically resized, A = -0.75, to (h, w) with scale factor ((h + 0.1) / 37,
    (w + 0.1) / 37)), register tokens after cls; pre-LN blocks (eps 1e-6) with LayerScale:
      x += ls1 * proj(attn(norm1 x)); x += ls2 * fc2(gelu(fc1(norm2 x)))
    the outputs of the blocks listed in intermediate_layers go through the final norm; their
    patch tokens through a 1x1 conv each (output_projections), summed; the class token of the
    last one feeds the scale MLP.
  neck (ConvStack): level 0 = [features ; uv], levels 1..4 = uv at 2^l times the grid; per level
    x = input_block(feature) (+ x), residual blocks, output block, resampler (2x) to the next.
    Residual block: x + conv3(act(norm(conv3(act(norm(x)))))) with replicate padding.
  heads: ConvStacks on the neck's 5 levels; last level's output, bilinear to (H, W).
  points: remap 'exp' (xy * exp(z), exp(z)); normal: L2 normalised; mask: sigmoid;
  metric_scale: exp(MLP(cls)).

Writes test/golden/moge/: model.pt (torch.save {'model_config', 'model'}), weights.safetensors +
config.json (the same weights), cases.safetensors (images and outputs, computed in float64), for
the published MoGe-2 structure; and the same under variant-b/ for a model that uses the other
options: register tokens (antialiased bicubic position resize by size), intermediate_layers as
a count, group / layer / instance norms in the residual blocks, a wider hidden conv,
pixel_shuffle / nearest / bilinear resamplers, remap sinh_exp, no normal head, a one-layer
scale head.
Run: /usr/bin/python3 test/reference/moge2_reference.py
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from safetensors_f32 import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "golden", "moge")
D, DEPTH, PATCH, GRID = 64, 4, 14, 37
HEAD_DIM = 64
CONFIG = {
    "encoder": {"backbone": "dinov2_vits14", "intermediate_layers": [0, 2, 3], "dim_out": 64},
    "neck": {"dim_in": [66, 2, 2, 2, 2], "dim_out": None, "dim_res_blocks": [64, 16, 16, 16, 16],
             "num_res_blocks": [0, 2, 1, 1, 0], "res_block_in_norm": "none", "res_block_hidden_norm": "none",
             "resamplers": ["conv_transpose", "conv_transpose", "conv_transpose", "bilinear"]},
    "points_head": {"dim_in": [64, 16, 16, 16, 16], "dim_out": [None, None, None, None, 3],
                    "dim_res_blocks": [64, 16, 16, 16, 16], "num_res_blocks": [0, 1, 1, 1, 0],
                    "res_block_in_norm": "none", "res_block_hidden_norm": "none",
                    "resamplers": ["conv_transpose", "conv_transpose", "conv_transpose", "bilinear"]},
    "mask_head": {"dim_in": [64, 16, 16, 16, 16], "dim_out": [None, None, None, None, 1],
                  "dim_res_blocks": [64, 16, 16, 16, 16], "num_res_blocks": [0, 1, 1, 1, 0],
                  "res_block_in_norm": "none", "res_block_hidden_norm": "none",
                  "resamplers": ["conv_transpose", "conv_transpose", "conv_transpose", "bilinear"]},
    "normal_head": {"dim_in": [64, 16, 16, 16, 16], "dim_out": [None, None, None, None, 3],
                    "dim_res_blocks": [64, 16, 16, 16, 16], "num_res_blocks": [0, 1, 1, 1, 0],
                    "res_block_in_norm": "none", "res_block_hidden_norm": "none",
                    "resamplers": ["conv_transpose", "conv_transpose", "conv_transpose", "bilinear"]},
    "scale_head": {"dims": [64, 64, 64, 1]},
    "remap_output": "exp",
    "num_tokens_range": [1200, 3600],
}
VARIANT_B = {
    "encoder": {"backbone": "dinov2_vits14_reg", "intermediate_layers": 2, "dim_out": 64},
    "neck": {"dim_in": [66, 2, 2, 2, 2], "dim_out": None, "dim_res_blocks": [64, 32, 32, 32, 32],
             "num_res_blocks": [1, 1, 0, 1, 0], "dim_times_res_block_hidden": 2,
             "res_block_in_norm": "group_norm", "res_block_hidden_norm": "layer_norm",
             "resamplers": ["pixel_shuffle", "nearest", "conv_transpose", "bilinear"]},
    "points_head": {"dim_in": [64, 32, 32, 32, 32], "dim_out": [None, None, None, None, 3],
                    "dim_res_blocks": [64, 32, 32, 32, 32], "num_res_blocks": 1,
                    "res_block_in_norm": "instance_norm", "res_block_hidden_norm": "group_norm",
                    "resamplers": "bilinear"},
    "mask_head": {"dim_in": [64, 32, 32, 32, 32], "dim_out": [None, None, None, None, 1],
                  "dim_res_blocks": [64, 32, 32, 32, 32], "num_res_blocks": [0, 1, 0, 0, 1],
                  "res_block_in_norm": "none", "res_block_hidden_norm": "none",
                  "resamplers": ["conv_transpose", "conv_transpose", "conv_transpose", "bilinear"]},
    "scale_head": {"dims": [64, 1]},
    "remap_output": "sinh_exp",
    "num_tokens_range": [1200, 3600],
}
REGISTERS = 0
# (H, W, num_tokens): a landscape image shrunk into the grid, a portrait one enlarged.
CASES = [(45, 61, 12), (52, 38, 10)]

gen = torch.Generator().manual_seed(17)


def rand(*shape, std=1.0, mean=0.0):
    return (torch.randn(*shape, generator=gen) * std + mean).float()


def make_weights():
    sd = {}
    b = "encoder.backbone."
    sd[b + "cls_token"] = rand(1, 1, D, std=0.5)
    sd[b + "pos_embed"] = rand(1, GRID * GRID + 1, D, std=0.5)
    sd[b + "mask_token"] = torch.zeros(1, D)
    if REGISTERS:
        sd[b + "register_tokens"] = rand(1, REGISTERS, D, std=0.5)
    sd[b + "patch_embed.proj.weight"] = rand(D, 3, PATCH, PATCH, std=1 / math.sqrt(3 * PATCH * PATCH))
    sd[b + "patch_embed.proj.bias"] = rand(D, std=0.1)
    for i in range(DEPTH):
        p = f"{b}blocks.{i}."
        for n in ("norm1", "norm2"):
            sd[p + n + ".weight"] = rand(D, std=0.2, mean=1.0)
            sd[p + n + ".bias"] = rand(D, std=0.1)
        sd[p + "attn.qkv.weight"] = rand(3 * D, D, std=1 / math.sqrt(D))
        sd[p + "attn.qkv.bias"] = rand(3 * D, std=0.1)
        sd[p + "attn.proj.weight"] = rand(D, D, std=1 / math.sqrt(D))
        sd[p + "attn.proj.bias"] = rand(D, std=0.1)
        sd[p + "ls1.gamma"] = rand(D, std=0.3, mean=0.5)
        sd[p + "mlp.fc1.weight"] = rand(4 * D, D, std=1 / math.sqrt(D))
        sd[p + "mlp.fc1.bias"] = rand(4 * D, std=0.1)
        sd[p + "mlp.fc2.weight"] = rand(D, 4 * D, std=1 / math.sqrt(4 * D))
        sd[p + "mlp.fc2.bias"] = rand(D, std=0.1)
        sd[p + "ls2.gamma"] = rand(D, std=0.3, mean=0.5)
    sd[b + "norm.weight"] = rand(D, std=0.2, mean=1.0)
    sd[b + "norm.bias"] = rand(D, std=0.1)
    enc = CONFIG["encoder"]
    for i in range(len(taken_layers())):
        sd[f"encoder.output_projections.{i}.weight"] = rand(enc["dim_out"], D, 1, 1, std=1 / math.sqrt(D))
        sd[f"encoder.output_projections.{i}.bias"] = rand(enc["dim_out"], std=0.1)
    sd["encoder.image_mean"] = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    sd["encoder.image_std"] = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def conv(name, cout, cin, k, gain=0.7):
        sd[name + ".weight"] = rand(cout, cin, k, k, std=gain / math.sqrt(cin * k * k))
        sd[name + ".bias"] = rand(cout, std=0.1)

    def norm(name, kind, c):
        if kind in ("group_norm", "layer_norm"):
            sd[name + ".weight"] = rand(c, std=0.2, mean=1.0)
            sd[name + ".bias"] = rand(c, std=0.1)

    for stack in ("neck", "points_head", "mask_head", "normal_head"):
        if stack not in CONFIG:
            continue
        c = CONFIG[stack]
        dims = c["dim_res_blocks"]
        for i, d in enumerate(dims):
            if c["dim_in"][i] is not None:
                conv(f"{stack}.input_blocks.{i}", d, c["dim_in"][i], 1)
            hid = d * c.get("dim_times_res_block_hidden", 1)
            for j in range(per_level(c["num_res_blocks"], i)):
                norm(f"{stack}.res_blocks.{i}.{j}.layers.0", c["res_block_in_norm"], d)
                conv(f"{stack}.res_blocks.{i}.{j}.layers.2", hid, d, 3)
                norm(f"{stack}.res_blocks.{i}.{j}.layers.3", c["res_block_hidden_norm"], hid)
                conv(f"{stack}.res_blocks.{i}.{j}.layers.5", d, hid, 3)
            dout = c["dim_out"][i] if isinstance(c["dim_out"], list) else c["dim_out"]
            if dout is not None:
                conv(f"{stack}.output_blocks.{i}", dout, d, 1, gain=0.3)
        for i in range(len(dims) - 1):
            kind = per_level(c["resamplers"], i)
            p = f"{stack}.resamplers.{i}"
            if kind == "conv_transpose":
                sd[p + ".0.weight"] = rand(dims[i], dims[i + 1], 2, 2, std=1 / math.sqrt(dims[i]))
                sd[p + ".0.bias"] = rand(dims[i + 1], std=0.1)
                conv(p + ".1", dims[i + 1], dims[i + 1], 3)
            elif kind == "pixel_shuffle":
                conv(p + ".0", 4 * dims[i + 1], dims[i], 3)
                conv(p + ".2", dims[i + 1], dims[i + 1], 3)
            else:
                conv(p + ".1", dims[i + 1], dims[i], 3)
    dims = CONFIG["scale_head"]["dims"]
    for k, (a, o) in enumerate(zip(dims[:-1], dims[1:])):
        sd[f"scale_head.{2 * k}.weight"] = rand(o, a, std=1 / math.sqrt(a))
        sd[f"scale_head.{2 * k}.bias"] = rand(o, std=0.1)
    return sd


# ---- the network, float64 -------------------------------------------------------------------


def per_level(v, i):
    return v[i] if isinstance(v, list) else v


def taken_layers():
    il = CONFIG["encoder"]["intermediate_layers"]
    return list(range(DEPTH - il, DEPTH)) if isinstance(il, int) else il


def grid_of(h, w, tokens):
    a = w / h
    return round((tokens / a) ** 0.5), round((tokens * a) ** 0.5)


def view_plane_uv(w, h, aspect):
    sx = aspect / math.sqrt(1 + aspect ** 2)
    sy = 1 / math.sqrt(1 + aspect ** 2)
    u = torch.linspace(-sx * (w - 1) / w, sx * (w - 1) / w, w, dtype=torch.float64)
    v = torch.linspace(-sy * (h - 1) / h, sy * (h - 1) / h, h, dtype=torch.float64)
    return torch.stack([u[None, :].expand(h, w), v[:, None].expand(h, w)])[None]


def vit(sd, x, rows, cols):
    b = "encoder.backbone."
    t = F.conv2d(x, sd[b + "patch_embed.proj.weight"], sd[b + "patch_embed.proj.bias"], stride=PATCH)
    t = t.flatten(2).transpose(1, 2)
    t = torch.cat([sd[b + "cls_token"], t], dim=1)
    pos = sd[b + "pos_embed"]
    table = pos[:, 1:].reshape(1, GRID, GRID, D).permute(0, 3, 1, 2)
    if REGISTERS:   # the hub's *_reg backbones: by size, antialiased
        table = F.interpolate(table, size=(rows, cols), mode="bicubic", antialias=True)
    else:
        table = F.interpolate(table, scale_factor=((rows + 0.1) / GRID, (cols + 0.1) / GRID), mode="bicubic")
    assert table.shape[-2:] == (rows, cols)
    t = t + torch.cat([pos[:, :1], table.flatten(2).transpose(1, 2)], dim=1)
    if b + "register_tokens" in sd:
        t = torch.cat([t[:, :1], sd[b + "register_tokens"], t[:, 1:]], dim=1)
    heads = D // HEAD_DIM
    out = []
    for i in range(DEPTH):
        p = f"{b}blocks.{i}."
        ln = lambda v, n: F.layer_norm(v, (D,), sd[p + n + ".weight"], sd[p + n + ".bias"], 1e-6)
        qkv = F.linear(ln(t, "norm1"), sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"])
        q, k, v = qkv.reshape(1, -1, 3, heads, HEAD_DIM).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(HEAD_DIM), dim=-1) @ v
        att = att.transpose(1, 2).reshape(1, -1, D)
        t = t + sd[p + "ls1.gamma"] * F.linear(att, sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"])
        m = F.gelu(F.linear(ln(t, "norm2"), sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"]))
        t = t + sd[p + "ls2.gamma"] * F.linear(m, sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"])
        if i in taken_layers():
            out.append(F.layer_norm(t, (D,), sd[b + "norm.weight"], sd[b + "norm.bias"], 1e-6))
    return out


def encoder(sd, image, rows, cols):
    x = F.interpolate(image, (rows * PATCH, cols * PATCH), mode="bilinear", align_corners=False, antialias=True)
    x = (x - sd["encoder.image_mean"]) / sd["encoder.image_std"]
    layers = vit(sd, x, rows, cols)
    regs = sd["encoder.backbone.register_tokens"].shape[1] if "encoder.backbone.register_tokens" in sd else 0
    feat = 0
    for i, t in enumerate(layers):
        grid = t[:, 1 + regs:].transpose(1, 2).reshape(1, D, rows, cols)
        feat = feat + F.conv2d(grid, sd[f"encoder.output_projections.{i}.weight"], sd[f"encoder.output_projections.{i}.bias"])
    return feat, layers[-1][:, 0]


def conv3(sd, name, x):
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), sd[name + ".weight"], sd[name + ".bias"])


def norm2d(sd, name, kind, x):
    C = x.shape[1]
    if kind == "group_norm":
        return F.group_norm(x, C // 32, sd[name + ".weight"], sd[name + ".bias"], 1e-5)
    if kind == "layer_norm":
        return F.group_norm(x, 1, sd[name + ".weight"], sd[name + ".bias"], 1e-5)
    if kind == "instance_norm":
        return F.instance_norm(x, eps=1e-5)
    return x


def conv_stack(sd, stack, feats):
    c = CONFIG[stack]
    outs, x = [], None
    for i in range(len(c["dim_res_blocks"])):
        f = feats[i]
        if c["dim_in"][i] is not None:
            f = F.conv2d(f, sd[f"{stack}.input_blocks.{i}.weight"], sd[f"{stack}.input_blocks.{i}.bias"])
        x = f if i == 0 else x + f
        for j in range(per_level(c["num_res_blocks"], i)):
            p = f"{stack}.res_blocks.{i}.{j}.layers"
            h = conv3(sd, p + ".2", F.relu(norm2d(sd, p + ".0", c["res_block_in_norm"], x)))
            x = x + conv3(sd, p + ".5", F.relu(norm2d(sd, p + ".3", c["res_block_hidden_norm"], h)))
        dout = c["dim_out"][i] if isinstance(c["dim_out"], list) else c["dim_out"]
        outs.append(F.conv2d(x, sd[f"{stack}.output_blocks.{i}.weight"], sd[f"{stack}.output_blocks.{i}.bias"]) if dout is not None else x)
        if i < len(c["dim_res_blocks"]) - 1:
            p = f"{stack}.resamplers.{i}"
            kind = per_level(c["resamplers"], i)
            if kind == "conv_transpose":
                x = conv3(sd, p + ".1", F.conv_transpose2d(x, sd[p + ".0.weight"], sd[p + ".0.bias"], stride=2))
            elif kind == "pixel_shuffle":
                x = conv3(sd, p + ".2", F.pixel_shuffle(conv3(sd, p + ".0", x), 2))
            elif kind == "nearest":
                x = conv3(sd, p + ".1", F.interpolate(x, scale_factor=2, mode="nearest"))
            else:
                x = conv3(sd, p + ".1", F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
    return outs


def forward(sd, image, tokens):
    _, _, H, W = image.shape
    rows, cols = grid_of(H, W, tokens)
    feat, cls = encoder(sd, image, rows, cols)
    feats = [torch.cat([feat, view_plane_uv(cols, rows, W / H)], dim=1)]
    for lvl in range(1, 5):
        feats.append(view_plane_uv(cols * 2 ** lvl, rows * 2 ** lvl, W / H))
    neck = conv_stack(sd, "neck", feats)
    out = {}
    for head in ("points", "normal", "mask"):
        if head + "_head" not in CONFIG:
            continue
        y = conv_stack(sd, head + "_head", neck)[-1]
        out[head] = F.interpolate(y, (H, W), mode="bilinear", align_corners=False)
    pts = out["points"].permute(0, 2, 3, 1)
    if CONFIG["remap_output"] == "exp":
        z = torch.exp(pts[..., 2:])
        pts = torch.cat([pts[..., :2] * z, z], dim=-1)
    else:
        assert CONFIG["remap_output"] == "sinh_exp"
        pts = torch.cat([torch.sinh(pts[..., :2]), torch.exp(pts[..., 2:])], dim=-1)
    h = cls
    dims = CONFIG["scale_head"]["dims"]
    for k in range(len(dims) - 1):
        h = F.linear(h, sd[f"scale_head.{2 * k}.weight"], sd[f"scale_head.{2 * k}.bias"])
        if k < len(dims) - 2:
            h = F.relu(h)
    res = {
        "points": pts[0],
        "mask": torch.sigmoid(out["mask"][0, 0]),
        "metric_scale": torch.exp(h[:, 0]),
        "grid": torch.tensor([rows, cols], dtype=torch.float64),
    }
    if "normal" in out:
        res["normal"] = F.normalize(out["normal"].permute(0, 2, 3, 1), dim=-1)[0]
    return res


# Resize rules as weight matrices [out, in]: interpolate a one-hot batch along the width.
RESIZES = [
    ("bilinear_aa", 52, 42, dict(mode="bilinear", align_corners=False, antialias=True)),
    ("bilinear_aa_up", 38, 56, dict(mode="bilinear", align_corners=False, antialias=True)),
    ("bilinear", 64, 45, dict(mode="bilinear", align_corners=False)),
    ("bilinear_up", 48, 61, dict(mode="bilinear", align_corners=False)),
    ("bilinear_x2", 5, None, dict(mode="bilinear", align_corners=False, scale_factor=2)),
    ("bicubic_sf_down", 37, None, dict(mode="bicubic", scale_factor=4.1 / 37)),
    ("bicubic_sf_up", 37, None, dict(mode="bicubic", scale_factor=50.1 / 37)),
    ("bicubic_aa_down", 37, 4, dict(mode="bicubic", antialias=True, align_corners=False)),
    ("bicubic_aa_up", 37, 50, dict(mode="bicubic", antialias=True, align_corners=False)),
]


def postprocess(points, mask, metric_scale, fov_x=None):
    """MoGe's infer after the network (fov unknown, force_projection, apply_mask): the focal and
    z shift that best project the points onto the view plane, fitted on a 64x64 nearest
    downsample of the masked points by scipy's least_squares(method='lm', ftol=1e-3) from
    shift 0 (its default x_scale=1 of scipy < 1.16), then depth = (z + shift) * scale, inf
    outside the mask, intrinsics normalised to the image."""
    from scipy.optimize import least_squares
    pts = points.float()
    H, W = pts.shape[:2]
    aspect = W / H
    uv = view_plane_uv(W, H, aspect)[0].permute(1, 2, 0).float()
    near = lambda t: F.interpolate(t.permute(2, 0, 1)[None], (64, 64), mode="nearest")[0].permute(1, 2, 0)
    mask_b = mask > 0.5
    keep = near(mask_b.float()[..., None])[..., 0] > 0
    p_lr = near(pts)[keep].numpy()
    uv_lr = near(uv)[keep].numpy()
    xy, z = p_lr[:, :2], p_lr[:, 2]

    def residuals(shift):
        proj = xy / (z + shift)[:, None]
        f = (proj * uv_lr).sum() / np.square(proj).sum()
        return (f * proj - uv_lr).ravel()

    if fov_x is None:
        sol = least_squares(residuals, x0=0, ftol=1e-3, method="lm")
        shift = sol.x.squeeze().astype(np.float32)
        proj = xy / (z + shift)[:, None]
        focal = float((proj * uv_lr).sum() / np.square(proj).sum())
    else:   # a known horizontal field of view: only the shift is fitted
        focal = aspect / (1 + aspect ** 2) ** 0.5 / math.tan(math.radians(fov_x) / 2)
        sol = least_squares(lambda s: (focal * (xy / (z + s)[:, None]) - uv_lr).ravel(), x0=0, ftol=1e-3, method="lm")
        shift = sol.x.squeeze().astype(np.float32)
    fx = focal / 2 * (1 + aspect ** 2) ** 0.5 / aspect
    fy = focal / 2 * (1 + aspect ** 2) ** 0.5
    K = torch.tensor([[fx, 0, 0.5], [0, fy, 0.5], [0, 0, 1]], dtype=torch.float64)
    depth = pts[..., 2].double() + float(shift)
    mask_b = mask_b & (depth > 0)
    depth = depth * float(metric_scale)
    depth = torch.where(mask_b, depth, torch.full_like(depth, float("inf")))
    return {"depth": depth, "intrinsics": K, "shift": torch.tensor([float(shift)]), "focal": torch.tensor([focal]),
            "nfev": torch.tensor([float(sol.nfev)])}


def resize_matrices():
    out = {}
    for name, n_in, n_out, kw in RESIZES:
        eye = torch.eye(n_in, dtype=torch.float64)[None, :, None, :]   # [1, in (channels), 1, in]
        kw = dict(kw)
        if "scale_factor" in kw:
            kw["scale_factor"] = (1.0, kw["scale_factor"])
        else:
            kw["size"] = (1, n_out)
        y = F.interpolate(eye, **kw)[0, :, 0, :]                        # [in, out]
        out[name] = y.t().contiguous().numpy()
    return out


HALF_MIN_NUMEL = 1024


def write_variant(OUT, with_pt=True, half=False):
    os.makedirs(OUT, exist_ok=True)
    sd = make_weights()
    halves = set()
    if half:
        # The large weight tensors exactly representable in f16 and stored so (half the bytes in
        # the repository); norms, biases and small tensors stay f32. The goldens below are
        # computed from exactly the values the file holds.
        halves = {k for k, v in sd.items() if v.numel() >= HALF_MIN_NUMEL and not k.endswith("bias")}
        sd = {k: (v.half().float() if k in halves else v) for k, v in sd.items()}
    if with_pt:
        # Half storages for the f16 tensors: the published checkpoints hold 16-bit storages too.
        stored = {k: (v.half() if k in halves else v) for k, v in sd.items()}
        torch.save({"model_config": CONFIG, "model": stored}, os.path.join(OUT, "model.pt"))
    write_safetensors(os.path.join(OUT, "weights.safetensors"), {k: v.numpy() for k, v in sd.items()}, f16=halves)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=1)
    sd64 = {k: v.double() for k, v in sd.items()}
    cases = {}
    for n, (H, W, tokens) in enumerate(CASES):
        img = torch.rand(1, 3, H, W, generator=gen).float()
        cases[f"{n}.image"] = img[0].numpy()
        cases[f"{n}.num_tokens"] = np.array([tokens], dtype=np.float32)
        with torch.no_grad():
            out = forward(sd64, img.double(), tokens)
        for k, v in out.items():
            cases[f"{n}.{k}"] = v.numpy()
        # The post-processing from the float32 points the official forward would hand it.
        post = postprocess(out["points"].float(), out["mask"].float(), out["metric_scale"][0].float())
        for k, v in post.items():
            cases[f"{n}.post.{k}"] = v.numpy()
        post = postprocess(out["points"].float(), out["mask"].float(), out["metric_scale"][0].float(), fov_x=60.0)
        for k, v in post.items():
            cases[f"{n}.post_fov60.{k}"] = v.numpy()
        print(f"case {n}: {W}x{H}, {tokens} tokens, grid {out['grid'].tolist()}, scale {out['metric_scale'].item():.4f}, "
              f"|points| {out['points'].abs().max().item():.3f}, mask {out['mask'].min().item():.3f}..{out['mask'].max().item():.3f}, "
              f"focal {post['focal'].item():.4f} shift {post['shift'].item():.4f} nfev {int(post['nfev'].item())}")
    write_safetensors(os.path.join(OUT, "cases.safetensors"), cases)


def main():
    global CONFIG, REGISTERS
    write_variant(OUT, half=True)
    write_safetensors(os.path.join(OUT, "resize.safetensors"), resize_matrices())
    CONFIG, REGISTERS = VARIANT_B, 4
    # The safetensors copy is enough here; f16 storage keeps the file small (egox widens on upload).
    write_variant(os.path.join(OUT, "variant-b"), with_pt=False, half=True)


if __name__ == "__main__":
    main()
