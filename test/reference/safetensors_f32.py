"""Minimal safetensors writer/reader for the reference scripts (the `safetensors` package is not
installed on this machine). F32 is written (U8 for the names listed in `u8`, F16 for those in `f16`); the reader also
accepts F64/F16/BF16/I64.

Layout: u64 little-endian header length N, N bytes of JSON header (padded with spaces to a
multiple of 8), then the raw little-endian tensor bytes. Tensors are laid out in sorted-name order
so a rerun writes byte-identical files.
"""
import json
import struct

import numpy as np


def write_safetensors(path, tensors, metadata=None, u8=(), f16=()):
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        st, np_dtype = ("U8", "|u1") if name in u8 else ("F16", "<f2") if name in f16 else ("F32", "<f4")
        arr = np.ascontiguousarray(np.asarray(tensors[name]), dtype=np_dtype)
        raw = arr.tobytes()
        header[name] = {"dtype": st, "shape": [int(s) for s in arr.shape],
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    meta = {"format": "pt"}
    if metadata:
        meta.update({str(k): str(v) for k, v in metadata.items()})
    header["__metadata__"] = meta
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8"}


def read_safetensors(path):
    """Returns (dict name -> float32/int numpy array, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        raw = data[base + a: base + b]
        if info["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=_DTYPES[info["dtype"]])
        out[name] = arr.reshape(info["shape"]).copy()
    return out, meta
