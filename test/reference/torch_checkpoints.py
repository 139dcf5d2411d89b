"""Golden files for test/io/pytorch: checkpoints written by torch.save itself, in the zip format
and the legacy format torch 1.13 writes, plus a safetensors file holding every tensor's expected
values (contiguous copies) that the test compares against bit for bit.

Run with Debian's python (torch 1.13):  /usr/bin/python3 test/reference/torch_checkpoints.py
"""
import collections
import json
import os
import struct

import torch

OUT = os.path.join(os.path.dirname(__file__), '..', 'golden', 'io')
os.makedirs(OUT, exist_ok=True)

ST_DTYPE = {torch.float64: 'F64', torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16',
            torch.int64: 'I64', torch.int32: 'I32', torch.uint8: 'U8', torch.bool: 'BOOL'}


def le_bytes(t: torch.Tensor) -> bytes:
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype('<i2').tobytes()
    return t.numpy().tobytes()


def write_safetensors(path: str, tensors: dict) -> None:
    """Independent minimal writer (sorted names, no alignment padding beyond 8 bytes)."""
    header, blobs, at = {}, [], 0
    for name in sorted(tensors):
        b = le_bytes(tensors[name])
        header[name] = {'dtype': ST_DTYPE[tensors[name].dtype], 'shape': list(tensors[name].shape),
                        'data_offsets': [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def state_dict() -> 'collections.OrderedDict[str, torch.Tensor]':
    g = torch.Generator().manual_seed(17)
    base = torch.randn(5, 7, generator=g)
    shared = torch.randn(40, generator=g)
    sd = collections.OrderedDict()
    sd['enc.w_f32'] = base
    sd['enc.w_f16'] = torch.randn(3, 5, generator=g).half()
    sd['enc.w_bf16'] = torch.randn(2, 3, 4, generator=g).bfloat16()
    sd['enc.w_f64'] = torch.randn(6, generator=g).double()
    sd['enc.steps_i64'] = torch.tensor([3, -1, 2 ** 40], dtype=torch.int64)
    sd['enc.mask_bool'] = torch.tensor([[True, False, True], [False, False, True]])
    sd['enc.scalar'] = torch.tensor(2.5)
    sd['enc.w_transposed'] = base.t()  # non-contiguous view of the first tensor's storage
    sd['dec.a'] = shared[3:15].view(3, 4)  # two views of one storage with offsets
    sd['dec.b'] = shared[20:38:2]  # strided
    sd['dec.c'] = torch.nn.Parameter(torch.randn(2, 2, generator=g).half(), requires_grad=False)
    sd['dec.empty'] = torch.zeros(0, 3)
    # strided views of 2-, 8- and 1-byte elements (the reader gathers them word by word)
    sd['perm.bf16'] = sd['enc.w_bf16'].permute(2, 0, 1)
    sd['perm.f64'] = sd['enc.w_f64'][::3]
    sd['perm.bool'] = sd['enc.mask_bool'].t()
    sd['perm.expanded'] = torch.arange(3.0).expand(4, 3)  # stride 0: torch.save keeps it
    return sd


def main() -> None:
    sd = state_dict()
    expected = {k: v.detach() for k, v in sd.items()}
    config = {'name': 'tiny', 'width': 8, 'eps': 1e-6, 'use_norm': True, 'head': None,
              'layers': [4, 5, 11], 'scales': (0.5, 2.0), 'nested': {'k': 'v', 'n': -3}}
    for zip_format, suffix in ((True, 'zip'), (False, 'legacy')):
        torch.save({'model_config': config, 'model': sd}, os.path.join(OUT, f'torch-{suffix}.pt'),
                   _use_new_zipfile_serialization=zip_format)
    # Tensors in nested containers with no state-dict key: names are the paths.
    g = torch.Generator().manual_seed(18)
    nested = {'a': {'b': torch.randn(3, generator=g)},
              'c': [torch.arange(4, dtype=torch.int32), (torch.ones(2, dtype=torch.uint8), 'text')],
              'n': 7}
    torch.save(nested, os.path.join(OUT, 'torch-nested.pth'))
    expected['a.b'] = nested['a']['b']
    expected['c.0'] = nested['c'][0]
    expected['c.1.0'] = nested['c'][1][0]
    # A module's own state_dict(), saved bare like the Wan2.1 release's .pth files: an
    # OrderedDict carrying `_metadata` (set through BUILD), bf16 weights, an int64 counter.
    torch.manual_seed(19)
    module = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 1), torch.nn.BatchNorm2d(3)).to(torch.bfloat16)
    module_sd = module.state_dict()
    torch.save(module_sd, os.path.join(OUT, 'torch-module.pth'))
    for k, v in module_sd.items():
        expected[f'module:{k}'] = v
    write_safetensors(os.path.join(OUT, 'torch-expected.safetensors'), expected)
    with open(os.path.join(OUT, 'torch-expected.json'), 'w') as f:
        json.dump({'model_config': config}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
