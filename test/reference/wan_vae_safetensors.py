"""A tiny safetensors writer for the VAE goldens: an 8-byte little-endian header length, a JSON
header (tensors in name order, packed back to back) padded with spaces to a multiple of 8,
then the raw little-endian bytes. F32 and BF16 only: what the VAE goldens hold."""
import json
import struct

import torch

_DTYPES = {torch.float32: "F32", torch.bfloat16: "BF16"}


def _bytes(t):
    t = t.contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype("<f4").tobytes()


def write_safetensors(path, tensors, metadata):
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype not in _DTYPES:
            raise ValueError(f"{name}: dtype {t.dtype} not supported by this writer")
        data = _bytes(t)
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
