// The contact sheet: one row per chosen frame, columns exo | ego prior | generated | ground
// truth (when the meta has one), each tile scaled to a common height.
import { hconcat, resizeBox, solid, vconcat, type RgbImage } from './frames.ts';

export interface ContactColumn {
  label: string;
  width: number;
  height: number;
  frames: readonly Uint8Array[];
}

/** Evenly spaced frame indices 0 .. n-1, first and last included. */
export function sheetFrames(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.round((i * (n - 1)) / (count - 1)));
}

/** Tiles of `tileHeight` pixels, 4-pixel grey gaps between tiles and rows. */
export function contactSheet(columns: readonly ContactColumn[], frameIndices: readonly number[], tileHeight: number): RgbImage {
  const gap = 4;
  const rows: RgbImage[] = [];
  for (const f of frameIndices) {
    const tiles: RgbImage[] = [];
    for (const col of columns) {
      const w = Math.max(1, Math.round((col.width * tileHeight) / col.height));
      const frame = col.frames[f];
      tiles.push(frame ? resizeBox({ width: col.width, height: col.height, rgb: frame }, w, tileHeight) : solid(w, tileHeight, 0));
      tiles.push(solid(gap, tileHeight, 128));
    }
    tiles.pop();
    const row = hconcat(tiles);
    rows.push(row, solid(row.width, gap, 128));
  }
  rows.pop();
  return vconcat(rows);
}
