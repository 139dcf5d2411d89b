// Token grid of a latent: Conv3d patch (1, 2, 2) turns [C, F, H, W] into F x H/2 x W/2 tokens
// in (frame, row, col) order, col fastest.

import { InputError } from '../../runtime/errors.ts';

/** A latent (from a user's file or size options) that the patch embedding cannot split. */
export class LatentShapeError extends InputError {}

export interface TokenGrid {
  frames: number;
  rows: number;
  cols: number;
}

export function tokenGrid(latentShape: readonly number[]): TokenGrid {
  const [, f, h, w] = latentShape as [number, number, number, number];
  if (latentShape.length !== 4 || h % 2 !== 0 || w % 2 !== 0) {
    throw new LatentShapeError(`latent shape [${latentShape.join(', ')}] must be [C, F, H, W] with even H and W`);
  }
  return { frames: f, rows: h / 2, cols: w / 2 };
}

export function tokenCount(g: TokenGrid): number {
  return g.frames * g.rows * g.cols;
}
