#!/usr/bin/python3
"""Independent reference for src/recon (cameras, undistortion, GGA direction tensors).

Writes golden files to test/golden/recon/ from the real Ego-Exo4D example data at
../shared/data/egoexo4d (relative to the repo root). Run from anywhere with Debian's python:

    /usr/bin/python3 test/reference/gga_reference.py

Needs numpy, torch and OpenCV (python3-opencv). The GGA tensors are built the way infer.py builds
them (full point maps, torch bilinear resize, torch.rot90, avg_pool3d, bf16 cast), in float64 up
to the final cast, so the TypeScript port (which samples only the needed depth pixels) is checked
against a literal, whole-tensor computation. Undistortion is real cv2.undistortPoints.

Golden format: <set>.json = {"tensors": {name: {"file", "dtype": f64|f32|bf16, "shape"}}, ...};
each tensor is a raw little-endian .bin next to it (bf16 as uint16 codes).
"""
import glob
import json
import os
import sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(REPO, '..', 'shared', 'data', 'egoexo4d')
OUT = os.path.join(REPO, 'test', 'golden', 'recon')

# The 12 Aria numbers of the renderer / infer.py, in fisheye order [k1..k6, p1, p2, s1..s4].
ARIA12 = [
    -0.02340373583137989, 0.09388021379709244, -0.06088035926222801, 0.0053304750472307205,
    0.003342868760228157, -0.0006356257363222539, 0.0005087381578050554, -0.0004747129278257489,
    -0.0011330085108056664, -0.00025734835071489215, 0.00009328465239377692, 0.00009424977179151028,
]


# ------------------------------------------------------------------ golden writer

class Golden:
    def __init__(self, name, **info):
        self.name = name
        self.info = dict(info)
        self.tensors = {}

    def add(self, key, arr, dtype):
        fname = f'{self.name}.{key}.bin'
        if dtype == 'f64':
            raw = np.ascontiguousarray(arr, dtype='<f8')
        elif dtype == 'f32':
            raw = np.ascontiguousarray(arr, dtype='<f4')
        elif dtype == 'bf16':
            t = torch.as_tensor(arr)
            assert t.dtype == torch.bfloat16
            raw = t.contiguous().view(torch.int16).numpy().view('<u2')
        elif dtype == 'u8':
            raw = np.ascontiguousarray(arr, dtype='u1')
        else:
            raise ValueError(dtype)
        raw.tofile(os.path.join(OUT, fname))
        self.tensors[key] = {'file': fname, 'dtype': dtype, 'shape': list(np.shape(raw))}

    def write(self):
        doc = dict(self.info)
        doc['tensors'] = self.tensors
        with open(os.path.join(OUT, f'{self.name}.json'), 'w') as f:
            json.dump(doc, f, indent=1)


# ------------------------------------------------------------------ data

def load_take(name):
    with open(os.path.join(DATA, 'meta.json')) as f:
        meta = json.load(f)
    for t in meta['test_datasets']:
        if os.path.basename(os.path.dirname(t['exo_path'])) == name:
            files = sorted(glob.glob(os.path.join(DATA, 'depth_maps', name, '*.npy')))
            depth = np.stack([np.load(p) for p in files]).astype(np.float64)
            return t, depth
    raise KeyError(name)


# ------------------------------------------------------------------ GGA (D.1-D.3)

def unit(v, dim):
    return v / torch.linalg.norm(v, dim=dim, keepdim=True)


def gga(take, depth, T=13, H=56, WX=98, WE=56, fstride=4, sstride=8):
    nF, Hd, Wd = depth.shape
    K = np.array(take['camera_intrinsics'], dtype=np.float64)
    # A.4: principal point -> grid centre, focal lengths scaled by new/old principal point.
    cx, cy = Wd / 2, Hd / 2
    fx, fy = K[0, 0] * (cx / K[0, 2]), K[1, 1] * (cy / K[1, 2])
    vv, uu = torch.meshgrid(torch.arange(Hd, dtype=torch.float64), torch.arange(Wd, dtype=torch.float64), indexing='ij')
    idx = [fstride * j for j in range(T)]
    # Per-frame operations only, so unproject just the frames GGA uses (saves memory).
    d = torch.from_numpy(depth[idx])                                   # [T, Hd, Wd]
    pcam = torch.stack([d * ((uu - cx) / fx), d * ((vv - cy) / fy), d], dim=1)  # [F, 3, Hd, Wd]
    E = np.eye(4)
    E[:3, :] = np.array(take['camera_extrinsics'], dtype=np.float64)
    Einv = torch.from_numpy(np.linalg.inv(E))
    pw = torch.einsum('rc,fchw->frhw', Einv[:3, :3], pcam) + Einv[:3, 3].view(1, 3, 1, 1)
    ch, cw = H * sstride, WX * sstride
    r0, c0 = (Hd - ch) // 2, (Wd - cw) // 2
    pw = pw[:, :, r0:r0 + ch, c0:c0 + cw]
    pts = F.interpolate(pw, size=(H, WX), mode='bilinear', align_corners=False)  # [T, 3, H, WX]

    ego = [np.vstack([np.array(m, dtype=np.float64), [0, 0, 0, 1]]) for m in take['ego_extrinsics']]
    centres = torch.from_numpy(np.stack([np.linalg.inv(ego[i])[:3, 3] for i in idx]))  # [T, 3]
    rots = torch.from_numpy(np.stack([ego[i][:3, :3] for i in idx]))                    # [T, 3, 3]

    # point_vecs_per_frame[j][k] = normalise(P[k] - O[j]): [T(j), T(k), 3, H, WX]
    pv = unit(pts.unsqueeze(0) - centres.view(T, 1, 3, 1, 1), dim=2)

    # Ego rays: cv2.undistortPoints on the WE x WE grid with K/8 and the 12 numbers as given.
    Ke = np.array(take['ego_intrinsics'], dtype=np.float64) / sstride
    Ke[2, 2] = 1.0
    grid = np.array([[j, i] for i in range(WE) for j in range(WE)], dtype=np.float64).reshape(-1, 1, 2)
    und = cv2.undistortPoints(grid, Ke, np.array(ARIA12, dtype=np.float64), R=np.eye(3), P=np.eye(3)).reshape(-1, 2)
    rays = unit(torch.from_numpy(np.concatenate([und, np.ones((und.shape[0], 1))], axis=1)), dim=1)  # [WE*WE, 3]
    rays_w = torch.einsum('pr,trc->tpc', rays, rots).reshape(T, WE, WE, 3)  # row vector times R
    rays_w = torch.rot90(rays_w, k=-1, dims=(1, 2)).permute(0, 3, 1, 2)   # [T, 3, WE, WE]

    # Keys: [pv | rays repeated], pooled, ego columns zeroed.
    keys_full = torch.cat([pv.permute(0, 2, 1, 3, 4),                                  # [T(i), 3, T(k), H, WX]
                           rays_w.permute(1, 0, 2, 3).unsqueeze(0).expand(T, 3, T, WE, WE)], dim=4)
    keys = F.avg_pool3d(keys_full, kernel_size=(1, 2, 2))                              # [T, 3, T, H/2, W/2]
    keys[..., WX // 2:] = 0
    # Queries: [diagonal pv | rays], pooled.
    diag = torch.stack([pv[j, j] for j in range(T)], dim=1)                           # [3, T, H, WX]
    q_full = torch.cat([diag, rays_w.permute(1, 0, 2, 3)], dim=3).unsqueeze(0)         # [1, 3, T, H, W]
    q = F.avg_pool3d(q_full, kernel_size=(1, 2, 2))[0]                                # [3, T, H/2, W/2]
    # (frame, row, col) token order, xyz last.
    q = q.permute(1, 2, 3, 0).reshape(-1, 3)
    keys = keys.permute(0, 2, 3, 4, 1).reshape(T, -1, 3)
    return {
        'q64': q, 'k64': keys, 'points0': pts[0].permute(1, 2, 0).contiguous(),
        'centres': centres, 'rays_cam': rays, 'undistorted': und,
    }


def to_bf16(t64):
    return t64.float().to(torch.bfloat16)


def write_gga(take_name, set_name, key_frames, f32_keys=(), grid=None, extras=True):
    take, depth = load_take(take_name)
    g = grid or {}
    r = gga(take, depth, **g)
    T = g.get('T', 13)
    gold = Golden(set_name, take=take_name, grid={'frames': T, 'latentH': g.get('H', 56), 'exoW': g.get('WX', 98), 'egoW': g.get('WE', 56)},
                  keyFrames=list(key_frames), keyFramesF32=list(f32_keys))
    gold.add('query_bf16', to_bf16(r['q64']), 'bf16')
    if extras:
        gold.add('query_f32', r['q64'].float().numpy(), 'f32')
    for i in key_frames:
        gold.add(f'key{i}_bf16', to_bf16(r['k64'][i]), 'bf16')
    for i in f32_keys:
        gold.add(f'key{i}_f32', r['k64'][i].float().numpy(), 'f32')
    if extras:
        gold.add('points0_f64', r['points0'].numpy(), 'f64')
    gold.add('centres_f64', r['centres'].numpy(), 'f64')
    gold.write()
    print(f'{set_name}: L={r["q64"].shape[0]} |q| range {r["q64"].norm(dim=1).min():.4f}..{r["q64"].norm(dim=1).max():.4f}')


# ------------------------------------------------------------------ undistortPoints goldens

def write_undistort():
    gold = Golden('undistort', cases=[])
    # 1. The GGA call itself: 56x56 grid, K/8, the 12 Aria numbers read in OpenCV's order.
    Ks = np.array([[150 / 8, 0, 255.5 / 8], [0, 150 / 8, 255.5 / 8], [0, 0, 1]], dtype=np.float64)
    grid = np.array([[j, i] for i in range(56) for j in range(56)], dtype=np.float64).reshape(-1, 1, 2)
    cases = [('gga_grid', grid, Ks, np.array(ARIA12))]
    # 2. Random pixels with other coefficient counts (4, 5, 8, 12) and a non-square K.
    rng = np.random.default_rng(7)
    K2 = np.array([[410.0, 0, 321.3], [0, 395.5, 238.9], [0, 0, 1]])
    pts = np.stack([rng.uniform(-50, 690, 300), rng.uniform(-40, 520, 300)], axis=1).reshape(-1, 1, 2)
    for n in (4, 5, 8, 12):
        D = rng.normal(0, 0.05, n) * np.array([1, 0.5, 0.02, 0.02, 0.2, 0.3, 0.1, 0.05, 0.01, 0.01, 0.01, 0.01][:n])
        cases.append((f'random_d{n}', pts, K2, D))
    # 3. Strong barrel distortion far off-centre: the rational factor turns negative and OpenCV
    #    gives up on the point (its icdist < 0 branch).
    far = np.stack([rng.uniform(-1500, 2100, 100), rng.uniform(-1500, 2000, 100)], axis=1).reshape(-1, 1, 2)
    cases.append(('negative_icdist', far, K2, np.array([-0.4, 0.0, 0.001, -0.002, 0.0])))
    for name, p, K, D in cases:
        out = cv2.undistortPoints(p, K, D, R=np.eye(3), P=np.eye(3)).reshape(-1, 2)
        if name != 'gga_grid':  # the grid itself is trivial to rebuild
            gold.add(f'{name}_in', p.reshape(-1, 2), 'f64')
        gold.add(f'{name}_out', out, 'f64')
        gold.info['cases'].append({'name': name, 'K': K.tolist(), 'D': [float(x) for x in D]})
    # float32 input, as the official code may pass it: output is float32 too.
    out32 = cv2.undistortPoints(grid.astype(np.float32), Ks, np.array(ARIA12), R=np.eye(3), P=np.eye(3)).reshape(-1, 2)
    gold.add('gga_grid_out_f32in', out32, 'f32')
    gold.info['opencv'] = cv2.__version__
    gold.write()
    print('undistort: opencv', cv2.__version__, 'pixel(0,0) ->', cases[0] and cv2.undistortPoints(grid[:1], Ks, np.array(ARIA12)).ravel())


# ------------------------------------------------------------------ fisheye goldens (B.4)

def fisheye_project(f, cx, cy, k, p, s, w2c, P, S=448):
    """Renderer projection written from PyTorch3D's conventions, float64: [row, col, zview, culled]."""
    Rcv, tcv = w2c[:, :3], w2c[:, 3]
    C = np.array([[-1, 0, 0], [0, -1, 0], [0, 0, 1.0]]) @ np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1.0]])
    Rp, Tp = Rcv.T @ C, C.T @ tcv          # PyTorch3D: X_view = X_world @ R + T
    X = P @ Rp + Tp
    a, b = X[:, 0] / X[:, 2], X[:, 1] / X[:, 2]
    r = np.sqrt(a * a + b * b)
    th = np.arctan(r)
    ratio = np.where(r < 1e-10, 1.0, th / np.where(r < 1e-10, 1.0, r))
    g = 1 + sum(k[i] * th ** (2 * (i + 1)) for i in range(6))
    xr, yr = ratio * g * a, ratio * g * b
    rd2 = xr ** 2 + yr ** 2
    x = xr + p[0] * (2 * xr ** 2 + rd2) + 2 * p[1] * xr * yr + s[0] * rd2 + s[1] * rd2 ** 2
    y = yr + p[1] * (2 * yr ** 2 + rd2) + 2 * p[0] * xr * yr + s[2] * rd2 + s[3] * rd2 ** 2
    fn, cxn, cyn = 2 * f / S, 2 * cx / S - 1, 1 - 2 * cy / S
    nx, ny = fn * x + cxn, fn * y + cyn
    # pixel centre (i, j) <-> NDC (1 - (2j+1)/S, 1 - (2i+1)/S)
    col, row = ((1 - nx) * S - 1) / 2, ((1 - ny) * S - 1) / 2
    return np.stack([row, col, X[:, 2], (X[:, 2] <= 0).astype(np.float64)], axis=1)


def write_fisheye():
    take, _ = load_take('cmu_soccer06_6_877_925')
    w2c = np.array(take['ego_extrinsics'][0], dtype=np.float64)
    rng = np.random.default_rng(11)
    # Points in the ego camera frame (OpenCV), in front within ~80 deg and some behind, to world.
    n = 400
    dirs = rng.normal(size=(n, 3))
    dirs[:, 2] = np.abs(dirs[:, 2]) * 1.2 + 0.15
    dirs[:320] /= np.linalg.norm(dirs[:320], axis=1, keepdims=True)
    dirs[320:360, 2] *= -1                        # behind the camera: culled
    dirs[360:] = rng.normal(size=(40, 3)) * [1, 1, 0.05]  # near the z = 0 plane, both signs
    dirs[0] = [0, 0, 1]                           # on the optical axis: r = 0 guard
    pc = dirs * rng.uniform(0.3, 12.0, (n, 1))
    R, t = w2c[:, :3], w2c[:, 3]
    pw = (pc - t) @ R                             # world = R^T (pc - t)
    default = (150.0, 255.5, 255.5, ARIA12[:6], ARIA12[6:8], ARIA12[8:])
    custom12 = list(rng.normal(0, 0.02, 12))
    custom = (163.2, 250.1, 261.7, custom12[:6], custom12[6:8], custom12[8:])
    gold = Golden('fisheye', w2c=w2c.tolist(), calibrations={
        'default': [default[0], default[1], default[2], *default[3], *default[4], *default[5]],
        'custom': [custom[0], custom[1], custom[2], *custom[3], *custom[4], *custom[5]]})
    gold.add('points_world', pw, 'f64')
    gold.add('default_out', fisheye_project(*default, w2c, pw), 'f64')
    gold.add('custom_out', fisheye_project(*custom, w2c, pw), 'f64')
    gold.write()
    axis = fisheye_project(*default, np.hstack([np.eye(3), np.zeros((3, 1))]), np.array([[0, 0, 1.0]]))
    print('fisheye: optical axis pixel (row, col) =', axis[0, :2])


def main():
    os.makedirs(OUT, exist_ok=True)
    write_undistort()
    write_fisheye()
    write_gga('cmu_soccer06_6_877_925', 'gga_soccer', key_frames=(0, 6, 12), f32_keys=(6,))
    write_gga('iiith_cooking_57_2_2451_2499', 'gga_cooking', key_frames=(12,), extras=False)
    # Small grid on real depth: the parametrised path (crop 64x96 of the centre, 4 latent frames).
    write_gga('cmu_soccer06_6_877_925', 'gga_soccer_small', key_frames=(0, 1, 2, 3), f32_keys=(0, 1, 2, 3),
              grid={'T': 4, 'H': 8, 'WX': 12, 'WE': 8})
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f'golden total {total / 1e6:.2f} MB in {OUT}')


if __name__ == '__main__':
    sys.exit(main())
