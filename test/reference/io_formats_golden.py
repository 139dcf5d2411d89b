"""Golden files for test/io: .npy files written by numpy itself, and a .safetensors file written
by an independent Python writer that follows the safetensors spec the way the official library
lays files out (tensors sorted by alignment then name, header padded with spaces to 8 bytes).
Values are simple formulas the tests recompute, so the files check format compatibility only.

Run with Debian's python (has numpy and torch):  /usr/bin/python3 test/reference/io_formats_golden.py
"""
import base64
import io
import json
import os
import struct

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), '..', 'golden', 'io')
os.makedirs(OUT, exist_ok=True)


def npy_files():
    """The bytes numpy writes, kept base64 in one JSON file (the repository tracks no .npy
    files; the test writes them out to a temporary folder before reading them)."""
    ar = np.arange(12)
    arrays = {
        'np_f4': (ar.reshape(3, 4) * 0.5 - 1).astype('<f4'),
        'np_f2': (ar * 0.25).astype('<f2'),
        'np_i4': (ar.reshape(2, 3, 2) * -1000).astype('<i4'),
        'np_u1': (ar * 20).astype('|u1'),
        'np_bool': ar % 3 == 0,
        'np_scalar': np.float32(2.5),
        'np_fortran': np.asfortranarray(ar.reshape(3, 4).astype('<f4')),
        'np_bigendian': ar.astype('>f4'),
        'np_object': np.array([1, 'a'], dtype=object),
    }
    files = {}
    for name, a in arrays.items():
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=True)
        files[name] = buf.getvalue()
    for v in (2, 3):
        buf = io.BytesIO()
        np.lib.format.write_array(buf, ar.astype('<i4'), version=(v, 0))
        files[f'np_v{v}'] = buf.getvalue()
    with open(os.path.join(OUT, 'numpy-written.json'), 'w') as f:
        json.dump({k: base64.b64encode(v).decode() for k, v in sorted(files.items())}, f, indent=1)
        f.write('\n')


def st_bytes(t: torch.Tensor) -> bytes:
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype('<i2').tobytes()
    return t.numpy().tobytes()


ST_DTYPE = {torch.float64: 'F64', torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16',
            torch.int64: 'I64', torch.int32: 'I32', torch.int16: 'I16', torch.int8: 'I8',
            torch.uint8: 'U8', torch.bool: 'BOOL'}


def safetensors_file():
    ar = torch.arange(24)
    tensors = {
        'blocks.0.attn.q.weight': (ar.reshape(4, 6) * 0.5).to(torch.bfloat16),
        'blocks.0.norm.weight': (ar[:6] - 3).to(torch.float16),
        'head.bias': (ar[:5] * 0.125).to(torch.float32),
        'pos': ar[:3].to(torch.float64) * 1e12,
        'steps': (ar[:4] * -(2 ** 40)).to(torch.int64),
        'i32': (ar[:3] - 100000).to(torch.int32),
        'i16': (ar[:3] * -300).to(torch.int16),
        'i8': (ar[:5] - 2).to(torch.int8),
        'u8': (ar[:7] * 30).to(torch.uint8),
        'mask': (ar[:6] % 2 == 0),
        'empty': torch.zeros(0, 3, dtype=torch.float32),
    }
    order = sorted(tensors, key=lambda k: (-tensors[k].element_size(), k))
    header = {'__metadata__': {'format': 'pt', 'source': 'io_formats_golden.py'}}
    blobs, off = [], 0
    for k in order:
        b = st_bytes(tensors[k])
        header[k] = {'dtype': ST_DTYPE[tensors[k].dtype], 'shape': list(tensors[k].shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(os.path.join(OUT, 'ref.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


npy_files()
safetensors_file()
print('wrote', sorted(os.listdir(OUT)))
