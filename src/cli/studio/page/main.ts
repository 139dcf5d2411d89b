/// <reference lib="dom" />
// The studio page: loads the take from the server, builds the prior's point cloud on the GPU
// through navigator.gpu with egox's own kernels (the modules src/browser.ts exports), and re-renders the ego
// prior of the current frame, the 3D view and the exo overlay whenever the frame, the keys or
// the view change. Poses come from the same trajectory library `egox trajectory` runs; the
// server recomputes them from the same keys when saving.
import { EgoxDevice } from '../../../runtime/device.ts';
import { PriorRenderer } from '../../../recon/prior-renderer.ts';
import { cameraCentre, egoCalibrationFromK, type EgoCalibration } from '../../../recon/cameras.ts';
import { estimateDynamicMasks } from '../../../recon/dynamic-mask-estimate.ts';
import { buildTrajectory, type TrajectoryKey } from '../../../recon/trajectory.ts';
import { depthToWorldPoints, exoCentre, exoUp, exoView, type ExoView } from '../../../recon/exo-view.ts';
import { estimateGroundPlane } from '../../../recon/ground-plane.ts';
import type { Vec3 } from '../../../recon/vec3.ts';
import { fileUrl, loadTake, saveKeys, type PageKey, type TakeData } from './api.ts';
import { ExoPanel } from './exo-panel.ts';
import { Orbit, ORBIT_CALIBRATION, ORBIT_SIZE, frustum, orbitPixel } from './orbit.ts';

type Mode = 'zbuffer' | 'composite';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (s: string) => ($('status').textContent = s);

interface Stats {
  /** ms from navigation start to the first prior frame on screen. */
  firstFrameMs?: number;
  /** GPU render + readback of each live prior frame, ms. */
  priorMs: number[];
}

function centroid(points: Float64Array): Vec3 {
  const n = points.length / 3;
  const c: Vec3 = [0, 0, 0];
  for (let i = 0; i < n; i++) for (let j = 0; j < 3; j++) c[j] += points[3 * i + j]! / n;
  return c;
}

function drawRgb(canvas: HTMLCanvasElement, rgb: Uint8Array, size: number): void {
  const img = new ImageData(size, size);
  for (let p = 0; p < size * size; p++) img.data.set([rgb[3 * p]!, rgb[3 * p + 1]!, rgb[3 * p + 2]!, 255], 4 * p);
  canvas.getContext('2d')!.putImageData(img, 0, 0);
}

async function openDevice(): Promise<EgoxDevice> {
  if (!navigator.gpu) throw new Error('this browser has no WebGPU (navigator.gpu): use a current Chrome or Chromium');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('WebGPU gave no adapter');
  return EgoxDevice.fromAdapter(adapter);
}

class Studio {
  frame = 0;
  mode: Mode = 'zbuffer';
  readonly keys = new Map<number, PageKey>();
  poses: Float64Array[];
  heads: Vec3[] | null = null;
  readonly stats: Stats = { priorMs: [] };
  private readonly view: ExoView;
  private readonly up: Vec3;
  private readonly calib: EgoCalibration;
  private readonly orbit: Orbit;
  private readonly exo: ExoPanel;
  private drawing = false;
  private dirty = false;

  constructor(
    readonly data: TakeData,
    readonly dev: EgoxDevice,
    readonly renderer: PriorRenderer,
  ) {
    const { info, depth } = data;
    this.poses = info.egoExtrinsics.map((m) => Float64Array.from(m));
    this.calib = egoCalibrationFromK(info.egoIntrinsics);
    this.view = exoView(info.exoIntrinsics, info.exoExtrinsics, info.depthShape, info.exoVideoShape);
    const points = depthToWorldPoints(this.view, depth[0]!);
    this.up = estimateGroundPlane(points, exoUp(this.view)).normal;
    this.orbit = new Orbit(centroid(points), this.up, exoCentre(this.view));
    this.exo = new ExoPanel(
      $('exo'),
      $('exo-overlay'),
      info,
      data.rgb,
      (head, lookAt) => this.setKey(head, lookAt),
      () => this.removeKey(),
    );
    this.wire();
  }

  private wire(): void {
    const scrub = $<HTMLInputElement>('scrub');
    scrub.max = String(this.data.info.frames - 1);
    scrub.addEventListener('input', () => this.setFrame(Number(scrub.value)));
    const mode = $<HTMLSelectElement>('mode');
    mode.addEventListener('change', () => {
      this.mode = mode.value as Mode;
      this.redraw();
    });
    const orbit = $('orbit-overlay');
    let last: [number, number] | null = null;
    orbit.addEventListener('mousedown', (e) => (last = [e.clientX, e.clientY]));
    window.addEventListener('mouseup', () => (last = null));
    window.addEventListener('mousemove', (e) => {
      if (!last) return;
      this.orbit.rotate(e.clientX - last[0], e.clientY - last[1]);
      last = [e.clientX, e.clientY];
      this.redraw();
    });
    orbit.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.orbit.zoom(e.deltaY);
      this.redraw();
    });
    $('save').addEventListener('click', () => void this.save());
  }

  setFrame(f: number): void {
    this.frame = f;
    $<HTMLInputElement>('scrub').value = String(f);
    $('frame-label').textContent = String(f);
    this.redraw();
  }

  private setKey(head: [number, number], lookAt: [number, number] | null): void {
    const old = this.keys.get(this.frame);
    // A drag starting on this frame's head keeps the head and sets the gaze.
    const keepHead = lookAt && old && Math.hypot(old.head[0] - head[0], old.head[1] - head[1]) < 12;
    const k: PageKey = { frame: this.frame, head: keepHead ? old.head : head };
    const gaze = lookAt ?? old?.lookAt;
    if (gaze) k.lookAt = gaze;
    this.keys.set(this.frame, k);
    this.updateTrajectory();
  }

  private removeKey(): void {
    if (this.keys.delete(this.frame)) this.updateTrajectory();
  }

  sortedKeys(): PageKey[] {
    return [...this.keys.values()].sort((a, b) => a.frame - b.frame);
  }

  /** The 49 poses from the keys (the meta's poses while there are none). */
  updateTrajectory(): void {
    const keys = this.sortedKeys();
    this.renderKeyList(keys);
    if (keys.length === 0) {
      this.poses = this.data.info.egoExtrinsics.map((m) => Float64Array.from(m));
      this.heads = null;
      status('no keys: showing the poses in meta.json');
    } else {
      try {
        const t = buildTrajectory({ view: this.view, frames: this.data.info.frames, depth: (f) => this.data.depth[f]!, up: this.up }, keys as TrajectoryKey[]);
        this.poses = t.poses;
        this.heads = t.heads;
        status(`${keys.length} key${keys.length > 1 ? 's' : ''}: trajectory updated`);
      } catch (e) {
        status(String((e as Error).message));
      }
    }
    this.redraw();
  }

  private renderKeyList(keys: PageKey[]): void {
    $('key-count').textContent = `${keys.length} key${keys.length === 1 ? '' : 's'}`;
    const list = $('keys');
    list.replaceChildren(
      ...keys.map((k) => {
        const li = document.createElement('li');
        const go = Object.assign(document.createElement('button'), { className: 'small', textContent: `frame ${k.frame}` });
        go.addEventListener('click', () => this.setFrame(k.frame));
        li.append(go, `head ${k.head.join(', ')}${k.lookAt ? ` · looks at ${k.lookAt.join(', ')}` : ''}`);
        return li;
      }),
    );
  }

  /** Resolves once every requested redraw is on screen. */
  async settled(): Promise<void> {
    while (this.drawing || this.dirty) await new Promise((ok) => setTimeout(ok, 20));
  }

  /** Coalesces redraw requests: one GPU render at a time, the latest state wins. */
  redraw(): void {
    this.dirty = true;
    if (!this.drawing) void this.drawLoop();
  }

  private async drawLoop(): Promise<void> {
    this.drawing = true;
    try {
      while (this.dirty) {
        this.dirty = false;
        await this.drawOnce();
      }
    } catch (e) {
      status(`render failed: ${(e as Error).message}`);
    } finally {
      this.drawing = false;
    }
  }

  private async drawOnce(): Promise<void> {
    const f = this.frame;
    this.exo.draw(f, this.sortedKeys(), this.heads);
    const t0 = performance.now();
    const prior = await this.renderPrior(f, this.mode);
    this.stats.priorMs.push(performance.now() - t0);
    drawRgb($('prior'), prior, 448);
    this.stats.firstFrameMs ??= performance.now();
    const orbitPose = this.orbit.pose();
    drawRgb($('orbit'), await this.renderer.render(f, ORBIT_CALIBRATION, orbitPose, 'zbuffer', ORBIT_SIZE), ORBIT_SIZE);
    this.drawOrbitOverlay(orbitPose);
  }

  /** The live prior of frame f at its current pose (what the test compares with `egox prior`). */
  renderPrior(f: number, mode: Mode): Promise<Uint8Array> {
    return this.renderer.render(f, this.calib, this.poses[f]!, mode);
  }

  private drawOrbitOverlay(w2c: Float64Array): void {
    const o = ($('orbit-overlay') as HTMLCanvasElement).getContext('2d')!;
    o.clearRect(0, 0, ORBIT_SIZE, ORBIT_SIZE);
    const line = (a: Vec3, b: Vec3) => {
      const p = orbitPixel(w2c, a);
      const q = orbitPixel(w2c, b);
      if (!p || !q) return;
      o.beginPath();
      o.moveTo(...p);
      o.lineTo(...q);
      o.stroke();
    };
    const centres = this.poses.map((m) => Array.from(cameraCentre(m)) as Vec3);
    o.strokeStyle = 'rgba(255, 230, 0, 0.8)';
    o.lineWidth = 1.5;
    for (let i = 1; i < centres.length; i++) line(centres[i - 1]!, centres[i]!);
    const { apex, corners } = frustum(this.calib, this.poses[this.frame]!);
    o.strokeStyle = '#ff3b30';
    o.lineWidth = 2;
    corners.forEach((c, i) => {
      line(apex, c);
      line(c, corners[(i + 1) % 4]!);
    });
  }

  async save(): Promise<void> {
    const keys = this.sortedKeys();
    if (keys.length === 0) {
      status('place at least one key (click the head) before saving');
      return;
    }
    status('saving: the server renders ego_Prior.mp4...');
    try {
      const r = await saveKeys(keys);
      status(`saved meta.json (old one kept as ${r.backupPath}) and ${r.priorPath}`);
      const video = $<HTMLVideoElement>('saved-prior');
      video.src = fileUrl(this.data.info.priorPath);
      video.hidden = false;
    } catch (e) {
      status(`save failed: ${(e as Error).message}`);
      throw e;
    }
  }
}

async function start(): Promise<Studio> {
  status('loading the take...');
  const data = await loadTake();
  $('take').textContent = data.info.name;
  status('estimating moving pixels and building the point cloud...');
  const masks = estimateDynamicMasks({ depth: data.depth, depthShape: data.info.depthShape, rgb: data.rgb, exoShape: data.info.exoShape });
  const dev = await openDevice();
  const renderer = await PriorRenderer.create(dev, {
    depthShape: data.info.depthShape,
    depth: data.depth,
    rgb: data.rgb,
    exoShape: data.info.exoShape,
    exoIntrinsics: data.info.exoIntrinsics,
    exoExtrinsics: data.info.exoExtrinsics,
    masks,
    dynamicPoints: false, // as `egox prior`: masked (moving) pixels stay holes
  });
  const studio = new Studio(data, dev, renderer);
  studio.updateTrajectory();
  status(`ready on ${dev.adapter.vendor} ${dev.adapter.architecture}: click the head in a few frames`);
  return studio;
}

// The handle tests (and curious users in the console) use.
const ready = start();
ready.catch((e: unknown) => status(`failed: ${(e as Error).message}`));
Object.assign(window, { egoxStudio: { ready } });
