// The exo panel: the current exo frame, the keys (head: red, look-at: blue), the trajectory's
// head centres seen from the exo camera (yellow), and the mouse: a click puts the head, a drag
// from the head to a point sets where the person looks, a right-click removes the frame's key.
import type { PageKey, TakeInfo } from './api.ts';
import type { Vec3 } from '../../../recon/vec3.ts';

export class ExoPanel {
  private readonly ctx: CanvasRenderingContext2D;
  private readonly overlay: CanvasRenderingContext2D;
  private readonly image: ImageData;
  private down: [number, number] | null = null;

  constructor(
    canvas: HTMLCanvasElement,
    overlay: HTMLCanvasElement,
    private readonly info: TakeInfo,
    private readonly rgb: readonly Uint8Array[],
    onKey: (head: [number, number], lookAt: [number, number] | null) => void,
    onRemove: () => void,
  ) {
    const [H, W] = info.exoShape;
    for (const c of [canvas, overlay]) {
      c.width = W;
      c.height = H;
    }
    this.ctx = canvas.getContext('2d')!;
    this.overlay = overlay.getContext('2d')!;
    this.image = new ImageData(W, H);
    overlay.addEventListener('mousedown', (e) => {
      if (e.button === 0) this.down = this.toVideo(e);
    });
    overlay.addEventListener('mouseup', (e) => {
      if (e.button !== 0 || !this.down) return;
      const up = this.toVideo(e);
      const moved = Math.hypot(up[0] - this.down[0], up[1] - this.down[1]);
      if (moved < 4) onKey(this.down, null);
      else onKey(this.down, up);
      this.down = null;
    });
    overlay.addEventListener('contextmenu', (e) => {
      e.preventDefault();
      onRemove();
    });
  }

  /** Exo video pixel (what trajectory keys use) under the mouse. */
  private toVideo(e: MouseEvent): [number, number] {
    const [H, W] = this.info.exoShape;
    const [VH, VW] = this.info.exoVideoShape;
    return [Math.round(e.offsetX * (VW / W)), Math.round(e.offsetY * (VH / H))];
  }

  /** Canvas point of exo video pixel (u, v). */
  private toCanvas(u: number, v: number): [number, number] {
    const [H, W] = this.info.exoShape;
    const [VH, VW] = this.info.exoVideoShape;
    return [u * (W / VW), v * (H / VH)];
  }

  /** Exo video pixel of a world point (the exo camera's native pinhole), or null behind it. */
  private project(p: Vec3): [number, number] | null {
    const E = this.info.exoExtrinsics;
    const K = this.info.exoIntrinsics;
    const c = [0, 1, 2].map((r) => E[4 * r]! * p[0] + E[4 * r + 1]! * p[1] + E[4 * r + 2]! * p[2] + E[4 * r + 3]!);
    if (!(c[2]! > 0)) return null;
    return [K[0]! * (c[0]! / c[2]!) + K[2]!, K[4]! * (c[1]! / c[2]!) + K[5]!];
  }

  draw(frame: number, keys: readonly PageKey[], heads: readonly Vec3[] | null): void {
    const src = this.rgb[frame]!;
    const d = this.image.data;
    for (let p = 0, n = src.length / 3; p < n; p++) {
      d[4 * p] = src[3 * p]!;
      d[4 * p + 1] = src[3 * p + 1]!;
      d[4 * p + 2] = src[3 * p + 2]!;
      d[4 * p + 3] = 255;
    }
    this.ctx.putImageData(this.image, 0, 0);
    const o = this.overlay;
    o.clearRect(0, 0, o.canvas.width, o.canvas.height);
    if (heads) {
      heads.forEach((h, f) => {
        const px = this.project(h);
        if (!px) return;
        const [x, y] = this.toCanvas(...px);
        o.fillStyle = f === frame ? '#ffe600' : 'rgba(255, 230, 0, 0.45)';
        o.beginPath();
        o.arc(x, y, f === frame ? 4 : 2, 0, 2 * Math.PI);
        o.fill();
      });
    }
    for (const k of keys) {
      const current = k.frame === frame;
      const [hx, hy] = this.toCanvas(...k.head);
      o.strokeStyle = current ? '#ff3b30' : 'rgba(255, 59, 48, 0.4)';
      o.lineWidth = 2;
      o.beginPath();
      o.arc(hx, hy, 7, 0, 2 * Math.PI);
      o.stroke();
      if (k.lookAt) {
        const [lx, ly] = this.toCanvas(...k.lookAt);
        o.strokeStyle = current ? '#4aa8ff' : 'rgba(74, 168, 255, 0.4)';
        o.beginPath();
        o.moveTo(hx, hy);
        o.lineTo(lx, ly);
        o.stroke();
        o.beginPath();
        o.arc(lx, ly, 5, 0, 2 * Math.PI);
        o.stroke();
      }
    }
  }
}
