#!/usr/bin/python3
"""Independent PyTorch reference of the umT5 encoder (Hugging Face UMT5EncoderModel structure, as
the Wan pipelines run it), on tiny random weights saved with the real key names.

Written from the facts in shared/reference/wan21-architecture.md section 3 (and egox-official.md
C.5), not from the transformers source (which is not imported):
  x = shared[ids]
  per block i (0..L-1):
    h = x + o( attention( q(n), k(n), v(n) ) ),  n = rms_norm(x) * layer.0.layer_norm
        scores[h, i, j] = q_i . k_j  (NO 1/sqrt(d_kv))  + bias_i[h, bucket(j - i)]  + mask_j
        bias_i = block i's OWN relative_attention_bias (umT5: every layer has one)
        mask_j = 0 for real keys, float32 min (-3.4028e38) for padded keys
    x = h + wo( gelu_tanh(wi_0(m)) * wi_1(m) ),  m = rms_norm(h) * layer.1.layer_norm
  out = rms_norm(x) * final_layer_norm;   rms_norm(x) = x / sqrt(mean(x^2) + 1e-6)  (no mean removal)
  prompt_embeds = out[:seq_len] then zeros up to max_length (what the Wan pipeline hands the DiT)
bucket(r) (T5, bidirectional, 32 buckets, max distance 128), r = key position - query position:
  16 if r > 0 else 0, plus: |r| if |r| < 8, else min(15, 8 + trunc(log(|r|/8) / log(128/8) * 8))
  computed in float32 as transformers does (same as float64 over the exported range, asserted).
The network runs in float64; the goldens are stored as F32. The float32 run is compared and printed.
A second implementation (attention through torch.nn.MultiheadAttention, bias and mask as its float
attn_mask, torch's GELU) must agree to 1e-12; the real rows must not change when the padded ids
change, nor when the prompt is run unpadded; and the "sensitivity" lines show that the usual
mistakes (bucket direction, distances past 128, exact range, unmasked padding, T5-style shared
bias, score scaling) each move the output by > 1e-3 relative L2.

Run:  /usr/bin/python3 test/reference/umt5_reference.py
Writes test/golden/umt5/:
  config.json           HF-style config: vocab_size 300, d_model 32, num_heads 4, d_kv 8, d_ff 48,
                        num_layers 2, relative_attention_num_buckets 32,
                        relative_attention_max_distance 128, layer_norm_epsilon 1e-6,
                        feed_forward_proj "gated-gelu", dense_act_fn "gelu_new", model_type "umt5",
                        plus "golden": {"maxLength": 192, "cases": {"short": 7, "long": 160}, "seed": ..}
  weights.safetensors   F32, HF UMT5EncoderModel names (Linear weights are [out, in]):
                          shared.weight                                              [300, 32]
                          encoder.block.N.layer.0.SelfAttention.{q,k,v,o}.weight     [32, 32]
                          encoder.block.N.layer.0.SelfAttention.relative_attention_bias.weight [32, 4]
                          encoder.block.N.layer.0.layer_norm.weight                  [32]
                          encoder.block.N.layer.1.DenseReluDense.{wi_0,wi_1}.weight  [48, 32]
                          encoder.block.N.layer.1.DenseReluDense.wo.weight           [32, 48]
                          encoder.block.N.layer.1.layer_norm.weight                  [32]
                          encoder.final_layer_norm.weight                            [32]
                        (no encoder.embed_tokens.weight: it is tied to shared.weight; real files may
                        carry both)
  cases.safetensors     for CASE in short (7 real tokens), long (160 real tokens), max length 192:
                          CASE.input_ids         I32 [1, 192]  ids then pad 0 (last real id is </s>=1)
                          CASE.attention_mask    I32 [1, 192]  1 real, 0 pad
                          CASE.last_hidden_state F32 [1, 192, 32] encoder output on every row (padded
                                                 rows included: queries are not masked, only keys)
                          CASE.prompt_embeds     F32 [1, 192, 32] rows >= seq_len set to 0
                        relative_position_bucket I32 [383]  bucket(r) for r = -191..191 (index r+191)
"""
import json
import math
import os
import struct

import numpy as np
import torch

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "umt5")
SEED = 9001
CFG = dict(vocab_size=300, d_model=32, num_heads=4, d_kv=8, d_ff=48, num_layers=2,
           relative_attention_num_buckets=32, relative_attention_max_distance=128,
           layer_norm_epsilon=1e-6, feed_forward_proj="gated-gelu", dense_act_fn="gelu_new",
           is_gated_act=True, model_type="umt5", architectures=["UMT5EncoderModel"],
           pad_token_id=0, eos_token_id=1)
MAX_LENGTH = 192
CASES = {"short": 7, "long": 160}


# ------------------------------------------------------------------ safetensors (tiny writer)
_DT = {torch.float32: ("F32", "<f4"), torch.int32: ("I32", "<i4")}


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        code, np_dt = _DT[t.dtype]
        data = t.numpy().astype(np_dt).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


# ------------------------------------------------------------------ the network
def bucket(rel):
    """T5 relative position bucket, bidirectional, 32 buckets, max distance 128 (float32 log)."""
    half = CFG["relative_attention_num_buckets"] // 2   # 16: one half per direction
    exact = half // 2                                   # 8: distances below this get their own bucket
    out = (rel > 0).to(torch.long) * half
    dist = rel.abs()
    far = exact + (torch.log(dist.to(torch.float32) / exact)
                   / math.log(CFG["relative_attention_max_distance"] / exact) * (half - exact)).to(torch.long)
    far = torch.clamp(far, max=half - 1)
    return out + torch.where(dist < exact, dist, far)


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + CFG["layer_norm_epsilon"]) * w


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def encode(W, ids, mask, dtype, mistake=None):
    """ids, mask: [L] -> output [L, d_model] in dtype. `mistake` injects a known bug (sensitivity)."""
    H, D = CFG["num_heads"], CFG["d_kv"]
    L = ids.shape[0]
    w = {k: v.to(dtype) for k, v in W.items()}
    x = w["shared.weight"][ids.long()]
    pos = torch.arange(L)
    buckets = bucket(pos[None, :] - pos[:, None])                      # [query, key]
    key_mask = torch.where(mask.bool(), 0.0, float(torch.finfo(torch.float32).min)).to(dtype)
    for i in range(CFG["num_layers"]):
        p = "encoder.block.%d.layer." % i
        n = rms_norm(x, w[p + "0.layer_norm.weight"])
        q = (n @ w[p + "0.SelfAttention.q.weight"].T).view(L, H, D).transpose(0, 1)
        k = (n @ w[p + "0.SelfAttention.k.weight"].T).view(L, H, D).transpose(0, 1)
        v = (n @ w[p + "0.SelfAttention.v.weight"].T).view(L, H, D).transpose(0, 1)
        bias_layer = 0 if mistake == "layer-0 bias shared (T5 style)" else i
        table = w["encoder.block.%d.layer.0.SelfAttention.relative_attention_bias.weight" % bias_layer]
        bias = table[buckets].permute(2, 0, 1)                          # [H, Lq, Lk]
        scores = q @ k.transpose(1, 2)
        if mistake == "scores scaled by 1/sqrt(d_kv)":
            scores = scores / math.sqrt(D)
        scores = scores + bias + key_mask[None, None, :]
        att = torch.softmax(scores, dim=-1) @ v                        # [H, L, D]
        x = x + att.transpose(0, 1).reshape(L, H * D) @ w[p + "0.SelfAttention.o.weight"].T
        m = rms_norm(x, w[p + "1.layer_norm.weight"])
        g = gelu_tanh(m @ w[p + "1.DenseReluDense.wi_0.weight"].T) * (m @ w[p + "1.DenseReluDense.wi_1.weight"].T)
        x = x + g @ w[p + "1.DenseReluDense.wo.weight"].T
    return rms_norm(x, w["encoder.final_layer_norm.weight"])


def encode_with_torch_mha(W, ids, mask):
    """Second implementation for a cross-check: attention through torch.nn.MultiheadAttention (its
    1/sqrt(d_kv) undone by scaling the q weights; position bias + key mask as a float attn_mask)."""
    H, D, d = CFG["num_heads"], CFG["d_kv"], CFG["d_model"]
    w = {k: v.double() for k, v in W.items()}
    L = ids.shape[0]
    x = w["shared.weight"][ids.long()][None]
    rel = torch.arange(L)[None, :] - torch.arange(L)[:, None]
    key_mask = torch.zeros(L, dtype=torch.float64).masked_fill(mask == 0, float(torch.finfo(torch.float32).min))
    eps = CFG["layer_norm_epsilon"]
    norm = lambda t, g: t / torch.sqrt((t * t).mean(-1, keepdim=True) + eps) * g
    for i in range(CFG["num_layers"]):
        p = "encoder.block.%d.layer." % i
        mha = torch.nn.MultiheadAttention(d, H, bias=False, batch_first=True).double()
        with torch.no_grad():
            mha.in_proj_weight.copy_(torch.cat([w[p + "0.SelfAttention.q.weight"] * math.sqrt(D),
                                                w[p + "0.SelfAttention.k.weight"], w[p + "0.SelfAttention.v.weight"]]))
            mha.out_proj.weight.copy_(w[p + "0.SelfAttention.o.weight"])
        table = w[p + "0.SelfAttention.relative_attention_bias.weight"]          # [bucket, head]
        attn_mask = table[bucket(rel)].permute(2, 0, 1) + key_mask[None, None, :]  # [H, Lq, Lk]
        n = norm(x, w[p + "0.layer_norm.weight"])
        x = x + mha(n, n, n, attn_mask=attn_mask, need_weights=False)[0]
        m = norm(x, w[p + "1.layer_norm.weight"])
        g = torch.nn.functional.gelu(torch.nn.functional.linear(m, w[p + "1.DenseReluDense.wi_0.weight"]), approximate="tanh")
        x = x + torch.nn.functional.linear(g * torch.nn.functional.linear(m, w[p + "1.DenseReluDense.wi_1.weight"]),
                                           w[p + "1.DenseReluDense.wo.weight"])
    return norm(x, w["encoder.final_layer_norm.weight"])[0]


def make_weights(gen):
    d, f, nb, h = CFG["d_model"], CFG["d_ff"], CFG["relative_attention_num_buckets"], CFG["num_heads"]
    inner = h * CFG["d_kv"]

    def randn(*shape, scale=1.0):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).to(torch.float32) * scale

    W = {"shared.weight": randn(CFG["vocab_size"], d),
         "encoder.final_layer_norm.weight": 1.0 + randn(d, scale=0.1)}
    for i in range(CFG["num_layers"]):
        p = "encoder.block.%d.layer." % i
        for name in "qkv":
            W[p + "0.SelfAttention.%s.weight" % name] = randn(inner, d, scale=d ** -0.5)
        W[p + "0.SelfAttention.o.weight"] = randn(d, inner, scale=inner ** -0.5)
        # unit-size biases so that a wrong bucket moves the output well past the tolerance
        W[p + "0.SelfAttention.relative_attention_bias.weight"] = randn(nb, h)
        W[p + "0.layer_norm.weight"] = 1.0 + randn(d, scale=0.1)
        W[p + "1.DenseReluDense.wi_0.weight"] = randn(f, d, scale=d ** -0.5)
        W[p + "1.DenseReluDense.wi_1.weight"] = randn(f, d, scale=d ** -0.5)
        W[p + "1.DenseReluDense.wo.weight"] = randn(d, f, scale=f ** -0.5)
        W[p + "1.layer_norm.weight"] = 1.0 + randn(d, scale=0.1)
    return W


def rel_l2(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)
    W = make_weights(gen)
    out = {}
    for name, seq_len in CASES.items():
        ids = torch.zeros(MAX_LENGTH, dtype=torch.int32)
        ids[: seq_len - 1] = torch.randint(2, CFG["vocab_size"], (seq_len - 1,), generator=gen, dtype=torch.int64).to(torch.int32)
        ids[seq_len - 1] = CFG["eos_token_id"]
        mask = torch.zeros(MAX_LENGTH, dtype=torch.int32)
        mask[:seq_len] = 1
        y64 = encode(W, ids, mask, torch.float64)
        y32 = encode(W, ids, mask, torch.float32)
        y_mha = encode_with_torch_mha(W, ids, mask)
        assert rel_l2(y_mha, y64) < 1e-12, "the two implementations disagree"
        cut = y64.clone()
        cut[seq_len:] = 0
        # the real rows must not depend on what the padded ids are
        other = ids.clone()
        other[seq_len:] = torch.randint(2, CFG["vocab_size"], (MAX_LENGTH - seq_len,), generator=gen).to(torch.int32)
        y_other = encode(W, other, mask, torch.float64)
        assert torch.allclose(y_other[:seq_len], y64[:seq_len], rtol=0, atol=1e-12)
        # and a short prompt must give the same rows as running it unpadded
        y_alone = encode(W, ids[:seq_len], mask[:seq_len], torch.float64)
        assert torch.allclose(y_alone, y64[:seq_len], rtol=0, atol=1e-12)
        print("%-5s seq %3d: rel L2 f32 vs f64 %.2e (real rows %.2e); |out| rms %.3f"
              % (name, seq_len, rel_l2(y32, y64), rel_l2(y32[:seq_len], y64[:seq_len]),
                 float(y64[:seq_len].pow(2).mean().sqrt())))
        out[name + ".input_ids"] = ids[None]
        out[name + ".attention_mask"] = mask[None]
        out[name + ".last_hidden_state"] = y64[None].to(torch.float32)
        out[name + ".prompt_embeds"] = cut[None].to(torch.float32)
    rel = torch.arange(-(MAX_LENGTH - 1), MAX_LENGTH)
    out["relative_position_bucket"] = bucket(rel).to(torch.int32)
    b64 = bucket_f64(rel)
    assert torch.equal(b64, bucket(rel)), "float32 and float64 bucketing differ"
    sensitivity(W, out)
    write_safetensors(os.path.join(OUT_DIR, "weights.safetensors"), W)
    write_safetensors(os.path.join(OUT_DIR, "cases.safetensors"), out)
    cfg = dict(CFG)
    cfg["golden"] = {"maxLength": MAX_LENGTH, "cases": CASES, "seed": SEED,
                     "compute": "float64, stored as F32", "mask_value": float(torch.finfo(torch.float32).min)}
    with open(os.path.join(OUT_DIR, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")
    print("wrote", OUT_DIR)


def bucket_f64(rel):
    half, exact = 16, 8
    out = (rel > 0).to(torch.long) * half
    dist = rel.abs()
    far = exact + (torch.log(dist.to(torch.float64) / exact) / math.log(16.0) * (half - exact)).to(torch.long)
    return out + torch.where(dist < exact, dist, torch.clamp(far, max=half - 1))


def sensitivity(W, out):
    """Shows the goldens catch the classic mistakes: each must move the long case past 1e-4."""
    global bucket
    ids, mask = out["long.input_ids"][0], out["long.attention_mask"][0]
    ref = out["long.last_hidden_state"][0].double()
    n = int(mask.sum())
    good_bucket = bucket
    checks = {}
    bucket = lambda r: good_bucket(-r)
    checks["bucket direction swapped"] = encode(W, ids, mask, torch.float64)
    # distances 128.. fall in bucket 15/31 like 91..127 do; a builder that keeps growing past the
    # max distance (no clamp) would use other buckets there: emulate with bucket 14 instead
    bucket = lambda r: torch.where(r.abs() >= 128, good_bucket(r) - 1, good_bucket(r))
    checks["distances >= 128 misbucketed"] = encode(W, ids, mask, torch.float64)
    bucket = lambda r: torch.where(r.abs() == 7, (r > 0).long() * 16 + 8, good_bucket(r))  # "< 7"
    checks["exact range off by one"] = encode(W, ids, mask, torch.float64)
    bucket = good_bucket
    checks["padding not masked"] = encode(W, ids, torch.ones_like(mask), torch.float64)
    for m in ("layer-0 bias shared (T5 style)", "scores scaled by 1/sqrt(d_kv)"):
        checks[m] = encode(W, ids, mask, torch.float64, mistake=m)
    for k, y in checks.items():
        e = rel_l2(y[:n], ref[:n])
        print("  sensitivity: %-32s rel L2 %.2e" % (k, e))
        assert e > 1e-3, k


if __name__ == "__main__":
    main()
