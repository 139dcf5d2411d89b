#!/usr/bin/python3
"""Writes tiny Wan2.1 models in the original release's layout (Wan2.1-I2V-14B-480P), from the
diffusers-named goldens of the other reference scripts, so a test can check that egox reads
them into the very same networks (outputs equal to the diffusers folder's).

The renaming here is written from the original code's module structure (Wan-Video/Wan2.1
wan/modules/{model,vae,t5,clip}.py): WanModel, WanVAE_ (flat down/upsample lists, residual
Sequentials), T5Encoder (token_embedding, blocks[i].attn/ffn.gate/fc1/fc2, per-block
pos_embedding), XLMRobertaCLIP.visual (fused to_qkv, mlp Sequential). Not from egox's tables.

Run:  /usr/bin/python3 test/reference/wan_layouts.py
Writes test/golden/layouts/:
  original/config.json                            WanModel config (dim, num_heads, ...)
  original/diffusion_pytorch_model-0000{1,2}-of-00002.safetensors + .index.json (the DiT, 2 shards)
  original/Wan2.1_VAE.pth                         torch.save of the VAE state dict
  original/models_t5_umt5-xxl-enc-bf16.pth        the umT5 encoder (kept F32 here)
  original/google/umt5-xxl/tokenizer.json         the tokenizer folder of the release
  original/models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth   visual.* (+ a textual
                                                  tensor and log_scale, which egox ignores)
  clip/image_encoder/{config.json, model.safetensors}, clip/image_processor/...  the same tiny
                                                  CLIP in Hugging Face names (width 80: one
                                                  ViT-H head, so the .pth's config can be inferred)
"""
import json
import os
import re
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from safetensors_f32 import read_safetensors, write_safetensors  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "golden")
OUT = os.path.join(ROOT, "layouts")


def load(path):
    t = read_safetensors(path)
    return t[0] if isinstance(t, tuple) else t


# ---- DiT: WanModel attribute paths -------------------------------------------------------
def dit_original(name):
    fixed = {
        "condition_embedder.time_embedder.linear_1": "time_embedding.0",
        "condition_embedder.time_embedder.linear_2": "time_embedding.2",
        "condition_embedder.time_proj": "time_projection.1",
        "condition_embedder.text_embedder.linear_1": "text_embedding.0",
        "condition_embedder.text_embedder.linear_2": "text_embedding.2",
        "condition_embedder.image_embedder.norm1": "img_emb.proj.0",
        "condition_embedder.image_embedder.ff.net.0.proj": "img_emb.proj.1",
        "condition_embedder.image_embedder.ff.net.2": "img_emb.proj.3",
        "condition_embedder.image_embedder.norm2": "img_emb.proj.4",
        "proj_out": "head.head",
        "patch_embedding": "patch_embedding",
    }
    if name == "scale_shift_table":
        return "head.modulation"
    mod, _, leaf = name.rpartition(".")
    if mod in fixed:
        return fixed[mod] + "." + leaf
    m = re.match(r"blocks\.(\d+)\.(.+)$", name)
    if not m:
        raise KeyError(name)
    b, rest = m.groups()
    if rest == "scale_shift_table":
        return f"blocks.{b}.modulation"
    attn = {"attn1": "self_attn", "attn2": "cross_attn"}
    proj = {"to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "o", "norm_q": "norm_q", "norm_k": "norm_k",
            "add_k_proj": "k_img", "add_v_proj": "v_img", "norm_added_k": "norm_k_img"}
    m2 = re.match(r"(attn[12])\.(.+)\.(weight|bias)$", rest)
    if m2:
        return f"blocks.{b}.{attn[m2.group(1)]}.{proj[m2.group(2)]}.{m2.group(3)}"
    other = {"norm2": "norm3", "ffn.net.0.proj": "ffn.0", "ffn.net.2": "ffn.2"}
    mod, _, leaf = rest.rpartition(".")
    return f"blocks.{b}.{other[mod]}.{leaf}"


def write_dit(dst):
    case = json.load(open(os.path.join(ROOT, "dit", "i2v_square.json")))
    w = load(os.path.join(ROOT, "dit", case["weights"]))
    orig = {dit_original(k): v for k, v in w.items()}
    names = sorted(orig)
    half = len(names) // 2
    shards = {"diffusion_pytorch_model-00001-of-00002.safetensors": names[:half],
              "diffusion_pytorch_model-00002-of-00002.safetensors": names[half:]}
    weight_map = {}
    for fname, keys in shards.items():
        write_safetensors(os.path.join(dst, fname), {k: orig[k] for k in keys})
        weight_map.update({k: fname for k in keys})
    json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map},
              open(os.path.join(dst, "diffusion_pytorch_model.safetensors.index.json"), "w"), indent=1)
    json.dump({"_class_name": "WanModel", "_diffusers_version": "0.30.0", "model_type": "i2v",
               **{k: case[k] for k in ("dim", "ffn_dim", "freq_dim", "in_dim", "num_heads", "num_layers", "out_dim",
                                       "text_dim", "text_len", "eps")}},
              open(os.path.join(dst, "config.json"), "w"), indent=1)


# ---- VAE: WanVAE_ attribute paths --------------------------------------------------------
RESIDUAL = {"norm1": "residual.0", "conv1": "residual.2", "norm2": "residual.3", "conv2": "residual.6",
            "conv_shortcut": "shortcut"}


def vae_original(name, num_res_blocks):
    top = {"quant_conv": "conv1", "post_quant_conv": "conv2"}
    head, _, tail = name.partition(".")
    if head in top:
        return top[head] + "." + tail
    part, _, rest = tail.partition(".")
    if part == "conv_in":
        return f"{head}.conv1.{rest}"
    if part == "norm_out":
        return f"{head}.head.0.{rest}"
    if part == "conv_out":
        return f"{head}.head.2.{rest}"
    if part == "mid_block":
        kind, i, inner = rest.split(".", 2)
        if kind == "attentions":
            return f"{head}.middle.1.{inner}"
        sub, _, leaf = inner.partition(".")
        return f"{head}.middle.{2 * int(i)}.{RESIDUAL[sub]}.{leaf}"
    if part == "down_blocks":
        i, inner = rest.split(".", 1)
        sub, _, leaf = inner.partition(".")
        return f"encoder.downsamples.{i}.{RESIDUAL.get(sub, sub)}.{leaf}"
    if part == "up_blocks":
        i, kind, j, inner = rest.split(".", 3)
        per_block = num_res_blocks + 2  # resnets (num_res_blocks + 1), then one resample
        if kind == "upsamplers":
            return f"decoder.upsamples.{int(i) * per_block + num_res_blocks + 1}.{inner}"
        sub, _, leaf = inner.partition(".")
        return f"decoder.upsamples.{int(i) * per_block + int(j)}.{RESIDUAL[sub]}.{leaf}"
    raise KeyError(name)


def write_vae(dst):
    cfg = json.load(open(os.path.join(ROOT, "vae", "config.json")))["config"]
    w = load(os.path.join(ROOT, "vae", "weights.safetensors"))
    # The goldens are BF16 (as the release's file); float32 values read from BF16 convert back exactly.
    sd = {vae_original(k, cfg["num_res_blocks"]): torch.from_numpy(np.ascontiguousarray(v)).to(torch.bfloat16) for k, v in w.items()}
    torch.save(sd, os.path.join(dst, "Wan2.1_VAE.pth"))


# ---- umT5: T5Encoder attribute paths ------------------------------------------------------
def umt5_original(name):
    if name in ("shared.weight", "encoder.embed_tokens.weight"):
        return "token_embedding.weight"
    if name == "encoder.final_layer_norm.weight":
        return "norm.weight"
    b, layer, rest = re.match(r"encoder\.block\.(\d+)\.layer\.(\d)\.(.+)$", name).groups()
    table = {
        "0": {"layer_norm.weight": "norm1.weight", "SelfAttention.q.weight": "attn.q.weight",
              "SelfAttention.k.weight": "attn.k.weight", "SelfAttention.v.weight": "attn.v.weight",
              "SelfAttention.o.weight": "attn.o.weight",
              "SelfAttention.relative_attention_bias.weight": "pos_embedding.embedding.weight"},
        "1": {"layer_norm.weight": "norm2.weight", "DenseReluDense.wi_0.weight": "ffn.gate.0.weight",
              "DenseReluDense.wi_1.weight": "ffn.fc1.weight", "DenseReluDense.wo.weight": "ffn.fc2.weight"},
    }
    return f"blocks.{b}.{table[layer][rest]}"


def write_umt5(dst):
    w = load(os.path.join(ROOT, "umt5", "weights.safetensors"))
    sd = {}
    for k, v in w.items():
        sd[umt5_original(k)] = torch.from_numpy(np.ascontiguousarray(v))
    torch.save(sd, os.path.join(dst, "models_t5_umt5-xxl-enc-bf16.pth"))
    tok = os.path.join(dst, "google", "umt5-xxl")
    os.makedirs(tok, exist_ok=True)
    shutil.copyfile(os.path.join(ROOT, "tokenizer", "unigram_a.tokenizer.json"), os.path.join(tok, "tokenizer.json"))


# ---- CLIP: a new tiny ViT, in HF names and as XLMRobertaCLIP.visual ---------------------------
def write_clip(dst_original, dst_hf):
    g = torch.Generator().manual_seed(1808)
    hidden, inter, layers, patch, image = 80, 32, 2, 14, 28
    tokens = (image // patch) ** 2 + 1

    def r(*shape, scale=0.2):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).float()

    hf = {"vision_model.embeddings.class_embedding": r(hidden),
          "vision_model.embeddings.patch_embedding.weight": r(hidden, 3, patch, patch, scale=0.05),
          "vision_model.embeddings.position_embedding.weight": r(tokens, hidden),
          "vision_model.pre_layrnorm.weight": 1 + r(hidden), "vision_model.pre_layrnorm.bias": r(hidden),
          "vision_model.post_layernorm.weight": 1 + r(hidden), "vision_model.post_layernorm.bias": r(hidden)}
    visual = {"cls_embedding": hf["vision_model.embeddings.class_embedding"].reshape(1, 1, hidden),
              "patch_embedding.weight": hf["vision_model.embeddings.patch_embedding.weight"],
              "pos_embedding": hf["vision_model.embeddings.position_embedding.weight"].reshape(1, tokens, hidden),
              "pre_norm.weight": hf["vision_model.pre_layrnorm.weight"], "pre_norm.bias": hf["vision_model.pre_layrnorm.bias"],
              "post_norm.weight": hf["vision_model.post_layernorm.weight"], "post_norm.bias": hf["vision_model.post_layernorm.bias"],
              "head": r(hidden, 16)}
    for i in range(layers):
        p = f"vision_model.encoder.layers.{i}"
        lw = {}
        for n in ("layer_norm1", "layer_norm2"):
            lw[f"{n}.weight"] = 1 + r(hidden)
            lw[f"{n}.bias"] = r(hidden)
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            lw[f"self_attn.{n}.weight"] = r(hidden, hidden, scale=0.1)
            lw[f"self_attn.{n}.bias"] = r(hidden)
        lw["mlp.fc1.weight"], lw["mlp.fc1.bias"] = r(inter, hidden, scale=0.1), r(inter)
        lw["mlp.fc2.weight"], lw["mlp.fc2.bias"] = r(hidden, inter, scale=0.1), r(hidden)
        hf.update({f"{p}.{k}": v for k, v in lw.items()})
        t = f"transformer.{i}"
        visual[f"{t}.norm1.weight"], visual[f"{t}.norm1.bias"] = lw["layer_norm1.weight"], lw["layer_norm1.bias"]
        visual[f"{t}.norm2.weight"], visual[f"{t}.norm2.bias"] = lw["layer_norm2.weight"], lw["layer_norm2.bias"]
        for leaf in ("weight", "bias"):
            visual[f"{t}.attn.to_qkv.{leaf}"] = torch.cat([lw[f"self_attn.{n}.{leaf}"] for n in ("q_proj", "k_proj", "v_proj")])
            visual[f"{t}.attn.proj.{leaf}"] = lw[f"self_attn.out_proj.{leaf}"]
            visual[f"{t}.mlp.0.{leaf}"] = lw[f"mlp.fc1.{leaf}"]
            visual[f"{t}.mlp.2.{leaf}"] = lw[f"mlp.fc2.{leaf}"]
    sd = {f"visual.{k}": v.contiguous() for k, v in visual.items()}
    sd["textual.token_embedding.weight"] = r(10, 8)  # the text tower: present in the release, unused
    sd["log_scale"] = torch.tensor(2.5)
    torch.save(sd, os.path.join(dst_original, "models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth"))

    enc = os.path.join(dst_hf, "image_encoder")
    proc = os.path.join(dst_hf, "image_processor")
    os.makedirs(enc, exist_ok=True)
    os.makedirs(proc, exist_ok=True)
    write_safetensors(os.path.join(enc, "model.safetensors"), {k: v.numpy() for k, v in hf.items()})
    json.dump({"model_type": "clip_vision_model", "hidden_size": hidden, "intermediate_size": inter,
               "num_attention_heads": 1, "num_hidden_layers": layers, "image_size": image, "patch_size": patch,
               "hidden_act": "gelu", "layer_norm_eps": 1e-5, "num_channels": 3},
              open(os.path.join(enc, "config.json"), "w"), indent=1)
    json.dump({"size": {"shortest_edge": image}, "crop_size": {"height": image, "width": image}, "resample": 3,
               "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]},
              open(os.path.join(proc, "preprocessor_config.json"), "w"), indent=1)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    original = os.path.join(OUT, "original")
    os.makedirs(original)
    write_dit(original)
    write_vae(original)
    write_umt5(original)
    write_clip(original, os.path.join(OUT, "clip"))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
