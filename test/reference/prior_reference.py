#!/usr/bin/python3
"""Independent references for the ego-prior point cloud (src/kernels/depth-reliable.ts,
src/recon/dynamic-mask-estimate.ts), written with torch / numpy / OpenCV the way the official
code and a numpy prototype compute them. Writes the small goldens, one tensor each, to
test/golden/recon/prior/prior.safetensors (F32, masks and RGB as U8):

  reliable_depth      [F, H, W] f32   random piecewise-smooth depth with holes
  reliable_mask       [F, H, W] u1    ViPE's reliable_depth_mask_range via torch pooling:
                                      max_pool2d (pads -inf), -max_pool2d(-d), avg_pool2d
                                      (count_include_pad=True), ratio < 0.1 and depth > 0
  motion_depth        [F, H, W] f32   synthetic clip: a transient mover, an object that stays
  motion_rgb          [F, H, EW, 3] u1  (centre crop of the depth grid, offset (W-EW)/2)
  motion_mask         [F, H, W] u1    the motion mask rule with numpy.percentile, numpy.median and
                                      cv2.dilate (elliptical kernel)

Run from the repo root: /usr/bin/python3 test/reference/prior_reference.py  (needs numpy, torch, cv2)
"""
import os

import cv2
import numpy as np
import torch
import torch.nn.functional as TF

from safetensors_f32 import write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), 'golden', 'recon', 'prior')
rng = np.random.default_rng(7)


def reliable_torch(depth):
    d = torch.from_numpy(depth)[:, None]  # [F,1,H,W]
    mx = TF.max_pool2d(d, 5, stride=1, padding=2)
    mn = -TF.max_pool2d(-d, 5, stride=1, padding=2)
    mean = TF.avg_pool2d(d, 5, stride=1, padding=2, count_include_pad=True)
    ratio = (mx - mn) / (mean + 1e-6)
    return ((ratio < 0.1) & (d > 0))[:, 0].numpy().astype(np.uint8)


def reliable_case():
    F, H, W = 3, 27, 41
    yy, xx = np.mgrid[0:H, 0:W]
    out = []
    for f in range(F):
        d = 2.0 + 0.01 * xx + 0.004 * yy + rng.normal(0, 0.002, (H, W))
        for _ in range(4):  # blocks at other depths: unreliable edges
            r, c = rng.integers(0, H), rng.integers(0, W)
            d[r:r + 7, c:c + 9] = rng.uniform(0.8, 6.0)
        d[rng.integers(0, H, 8), rng.integers(0, W, 8)] = 0.0  # holes
        d[0, :5] = 0.0  # holes on the border too
        out.append(d)
    depth = np.stack(out).astype(np.float32)
    return depth, reliable_torch(depth)


def motion_reference(D, C, col_off, tau=0.05, ctau=25.0, pct=90, min_frac=0.5, dilate_r=3):
    """D [F,H,W] depth, C [F,H,W,3] colour as float64 0..255 with NaN where the exo frame has none."""
    F = D.shape[0]
    b = np.percentile(D.astype(np.float64), pct, axis=0)
    near = D < b * (1 - tau)
    bgc = np.full(C.shape[1:], np.nan)
    for y in range(D.shape[1]):
        for x in range(D.shape[2]):
            sel = ~near[:, y, x]
            if sel.any() and not np.isnan(C[0, y, x, 0]):
                bgc[y, x] = np.median(C[sel, y, x], axis=0)
    diff = np.nan_to_num(np.abs(C - bgc[None]), nan=0.0).max(-1)
    fg = near | (diff > ctau)
    nbg = (~fg).sum(0)
    M = fg & (nbg >= int(np.ceil(min_frac * F)))[None]
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate_r + 1, 2 * dilate_r + 1))
    return np.stack([cv2.dilate(m.astype(np.uint8), k) for m in M]).astype(np.uint8)


def motion_case():
    F, H, W, EW = 12, 22, 36, 30
    off = (W - EW) // 2
    yy, xx = np.mgrid[0:H, 0:W]
    D = np.empty((F, H, W), np.float32)
    rgb = np.empty((F, H, EW, 3), np.uint8)
    base_rgb = rng.integers(30, 220, (H, EW, 3))
    for f in range(F):
        d = 3.0 + 0.01 * xx + rng.normal(0, 0.01, (H, W))
        im = np.clip(base_rgb + rng.normal(0, 3, base_rgb.shape), 0, 255)
        # transient mover: crosses the frame left to right, nearer than the background
        c0 = 2 + 3 * f
        d[5:12, c0:c0 + 5] = 1.5
        im[5:12, max(c0 - off, 0):max(c0 + 5 - off, 0)] = [200, 30, 30]
        # an object that stays (8 of 12 frames) with small motion: must NOT be masked
        if f % 3 != 0:
            d[14:19, 20 + f % 2:26 + f % 2] = 2.0
            im[14:19, 20 + f % 2 - off:26 + f % 2 - off] = [220, 120, 200]
        # colour-only change on the background (a light switching), frames 4 and 5
        if f in (4, 5):
            im[1:4, 1:8] = np.clip(im[1:4, 1:8] + 60, 0, 255)
        D[f] = d
        rgb[f] = im.astype(np.uint8)
    C = np.full((F, H, W, 3), np.nan)
    C[:, :, off:off + EW] = rgb
    return D, rgb, motion_reference(D, C, off)


def main():
    os.makedirs(OUT, exist_ok=True)
    depth, rel = reliable_case()
    D, rgb, M = motion_case()
    write_safetensors(os.path.join(OUT, 'prior.safetensors'),
                      {'reliable_depth': depth, 'reliable_mask': rel, 'motion_depth': D, 'motion_rgb': rgb, 'motion_mask': M},
                      u8=('reliable_mask', 'motion_rgb', 'motion_mask'))
    print('reliable fraction', rel.mean(), 'motion mask fraction', M.mean(), 'per frame', M.reshape(M.shape[0], -1).mean(1).round(3))


if __name__ == '__main__':
    main()
