// `egox studio` end to end in Chromium on a copy of a shared take: the real command serves the
// page, the test clicks the true head pixels (the real ego camera centre seen from the exo
// camera) in two frames, drags the gaze of one, and saves; the meta.json written must equal
// `egox trajectory`'s for the same keys, and the page's live prior (SwiftShader) must match
// egox's prior renderer under Node (lavapipe) for the same pose. Then the server's refusals: no
// token, a foreign Origin, a path outside the folder; each writes nothing. Screenshots go to
// shots/ (gitignored).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEgoxTake } from '../../src/io/meta.ts';
import { probeVideo } from '../../src/io/video.ts';
import { renderPrior } from '../../src/pipeline/prior.ts';
import { cameraCentre, projectPinhole, transformPoint } from '../../src/recon/cameras.ts';
import { exoView, fromDepthGrid } from '../../src/recon/exo-view.ts';
import { openNodeDevice } from '../../src/runtime/node.ts';
import { launchChromium } from '../helpers/browser.ts';
import { egoxAsync } from '../helpers/cli.ts';
import { copySharedTake } from '../helpers/take-copy.ts';

const TAKE = 'cmu_soccer06_6_877_925';
const KEY_FRAMES = [8, 32];
/** A frame between the keys: its pose is interpolated. */
const COMPARE_FRAME = 20;
/** Where the person looks at the second key (a gaze drag): the turf in front of the goal. */
const LOOK_AT: [number, number] = [300, 400];
const SHOTS = 'shots';

let take: ReturnType<typeof copySharedTake>;
let cliTake: ReturnType<typeof copySharedTake>;
let server: ChildProcess;
let url: URL;
let browser: Browser;
let page: Page;
const timings: Record<string, unknown> = {};

interface StudioHandle {
  settled: () => Promise<void>;
  setFrame: (f: number) => void;
  sortedKeys: () => { frame: number; head: [number, number]; lookAt?: [number, number] }[];
  renderPrior: (f: number, mode: 'zbuffer' | 'composite') => Promise<Uint8Array>;
  stats: { firstFrameMs?: number; priorMs: number[] };
}
type StudioWindow = { egoxStudio: { ready: Promise<StudioHandle> } };

/** Starts `egox studio DIR` and reads the URL it prints. */
function startStudio(dir: string): Promise<{ child: ChildProcess; url: URL }> {
  const child = spawn(process.execPath, ['bin/egox.js', 'studio', dir], { env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
  return new Promise((ok, fail) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d.toString();
      const m = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(out);
      if (m) ok({ child, url: new URL(m[1]!) });
    });
    child.stderr!.on('data', (d) => (err += d.toString()));
    child.on('exit', (code) => fail(new Error(`egox studio exited with ${code}: ${err}`)));
  });
}

/** A raw request with chosen headers (fetch cannot set Host). */
function request(method: string, pathAndQuery: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = http.request({ host: '127.0.0.1', port: url.port, method, path: pathAndQuery, headers: { host: url.host, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d.toString()));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

/** Every file under dir with its size and modification time (what "nothing written" compares). */
function snapshot(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .map((rel) => {
      const st = fs.lstatSync(path.join(dir, rel));
      return `${rel} ${st.size} ${st.mtimeMs}`;
    })
    .sort();
}

/** The exo video pixel of the real ego camera centre at frame f (rounded: a click). */
async function trueHeadPixel(f: number): Promise<[number, number]> {
  const t = loadEgoxTake(take.meta);
  const info = await probeVideo(t.exoPath);
  const view = exoView(t.exoIntrinsics, t.exoExtrinsics, t.depthShape, [info.height, info.width]);
  const c = cameraCentre(t.egoExtrinsics[f]!);
  const cam = transformPoint(t.exoExtrinsics, c[0]!, c[1]!, c[2]!);
  const p = projectPinhole(view.cam, cam[0]!, cam[1]!, cam[2]!);
  const { u, v } = fromDepthGrid(view, p.u, p.v);
  return [Math.round(u), Math.round(v)];
}

const studio = (p: Page) => p.evaluateHandle(() => (window as unknown as StudioWindow).egoxStudio.ready);

beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  take = copySharedTake(TAKE);
  cliTake = copySharedTake(TAKE);
  ({ child: server, url } = await startStudio(take.dir));
  browser = await launchChromium();
  page = await browser.newPage();
  await page.setViewport({ width: 1760, height: 760 });
  const t0 = Date.now();
  await page.goto(url.href);
  const s = await studio(page);
  await s.evaluate((h) => h.settled());
  timings.openToFirstFrameMs = Date.now() - t0;
  timings.pageFirstFrameMs = await s.evaluate((h) => h.stats.firstFrameMs);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  take?.remove();
  cliTake?.remove();
  fs.writeFileSync(path.join(SHOTS, 'studio-timings.json'), JSON.stringify(timings, null, 2));
});

describe('egox studio in Chromium', () => {
  it('shows the take and renders the prior live; two head clicks and Save write the CLI result and ego_Prior.mp4', async () => {
    await page.screenshot({ path: path.join(SHOTS, 'studio-ready.png') });
    const s = await studio(page);
    const original = fs.readFileSync(take.meta, 'utf8');
    const keys: string[] = [];
    for (const f of KEY_FRAMES) {
      const [u, v] = await trueHeadPixel(f);
      keys.push(`${f}:${u},${v}`);
      await page.$eval('#scrub', (el, f) => {
        (el as HTMLInputElement).value = String(f);
        el.dispatchEvent(new Event('input'));
      }, f);
      const box = (await (await page.$('#exo-overlay'))!.boundingBox())!;
      await page.mouse.click(box.x + u + 0.25, box.y + v + 0.25);
      await s.evaluate((h) => h.settled());
    }
    // Drag the gaze of the last key from the head to a spot on the turf.
    const [u, v] = await trueHeadPixel(KEY_FRAMES[1]!);
    const box = (await (await page.$('#exo-overlay'))!.boundingBox())!;
    await page.mouse.move(box.x + u + 0.25, box.y + v + 0.25);
    await page.mouse.down();
    await page.mouse.move(box.x + LOOK_AT[0] + 0.25, box.y + LOOK_AT[1] + 0.25, { steps: 5 });
    await page.mouse.up();
    await s.evaluate((h) => h.settled());
    keys[1] += `:${LOOK_AT.join(',')}`;
    expect(await s.evaluate((h) => h.sortedKeys().map((k) => `${k.frame}:${k.head.join(',')}${k.lookAt ? `:${k.lookAt.join(',')}` : ''}`))).toEqual(keys);
    // Preview frame times while scrubbing (z-buffer mode), for bench/RESULTS.md.
    await s.evaluate(async (h) => {
      h.stats.priorMs.length = 0;
      for (let f = 0; f < 49; f += 6) {
        h.setFrame(f);
        await h.settled();
      }
      h.setFrame(20);
      await h.settled();
    });
    timings.previewMs = await s.evaluate((h) => h.stats.priorMs);
    await page.screenshot({ path: path.join(SHOTS, 'studio-keys.png') });
    // orbit the 3D view a little
    const orbit = (await (await page.$('#orbit-overlay'))!.boundingBox())!;
    await page.mouse.move(orbit.x + 200, orbit.y + 200);
    await page.mouse.down();
    await page.mouse.move(orbit.x + 260, orbit.y + 180, { steps: 4 });
    await page.mouse.up();
    await s.evaluate((h) => h.settled());
    await page.screenshot({ path: path.join(SHOTS, 'studio-orbit.png') });

    const t0 = Date.now();
    await page.click('#save');
    await page.waitForFunction(() => /^(saved|save failed)/.test(document.getElementById('status')!.textContent ?? ''), { timeout: 280_000, polling: 200 });
    timings.saveMs = Date.now() - t0;
    expect(await page.$eval('#status', (e) => e.textContent)).toMatch(/^saved/);
    await page.screenshot({ path: path.join(SHOTS, 'studio-saved.png') });

    // the CLI on its own copy with the same keys
    const cli = await egoxAsync(['trajectory', '--meta', cliTake.meta, ...keys.flatMap((k) => ['--key', k])], { timeoutMs: 200_000 });
    expect(cli.stderr.split('\n').filter((l) => l.startsWith('egox:'))).toEqual([]);
    expect(cli.code).toBe(0);
    const saved = JSON.parse(fs.readFileSync(take.meta, 'utf8'));
    const byCli = JSON.parse(fs.readFileSync(cliTake.meta, 'utf8'));
    expect(saved.test_datasets[0].ego_extrinsics).toHaveLength(49);
    expect(saved).toEqual(byCli);
    const backups = fs.readdirSync(take.dir).filter((n) => n.startsWith('meta.json.') && n.endsWith('.bak'));
    expect(backups).toHaveLength(1);
    expect(fs.readFileSync(path.join(take.dir, backups[0]!), 'utf8')).toBe(original);
    const video = await probeVideo(path.join(take.dir, 'videos', TAKE, 'ego_Prior.mp4'));
    expect([video.width, video.height, video.frames]).toEqual([448, 448, 49]);
  }, 600_000);

  it("the live prior of a frame matches egox's prior renderer under Node for the saved pose", async () => {
    const s = await studio(page);
    const dev = await openNodeDevice();
    try {
      const t = loadEgoxTake(take.meta);
      for (const mode of ['zbuffer', 'composite'] as const) {
        const live = Uint8Array.from(await s.evaluate(async (h, mode, f) => Array.from(await h.renderPrior(f, mode)), mode, COMPARE_FRAME));
        const node = (await renderPrior(dev, t, { frameIndices: [COMPARE_FRAME], mode })).frames[0]!;
        expect(live.length).toBe(node.length);
        let same = 0;
        let withinOne = 0;
        let lit = 0;
        for (let p = 0; p < live.length / 3; p++) {
          let d = 0;
          for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs(live[3 * p + c]! - node[3 * p + c]!));
          if (d === 0) same++;
          if (d <= 1) withinOne++;
          if (node[3 * p]! + node[3 * p + 1]! + node[3 * p + 2]! > 0) lit++;
        }
        const n = live.length / 3;
        timings[`match_${mode}`] = { identical: same / n, withinOneStep: withinOne / n, lit: lit / n };
        expect(lit / n, `${mode}: the frame shows the scene`).toBeGreaterThan(0.1);
        if (mode === 'zbuffer') expect(same / n).toBeGreaterThanOrEqual(0.995);
        else expect(withinOne / n).toBeGreaterThanOrEqual(0.99);
      }
    } finally {
      dev.destroy();
    }
  }, 300_000);

  it('refuses requests without the token, from another Origin, or for paths outside the folder, and writes nothing', async () => {
    const token = url.searchParams.get('token')!;
    const own = `http://127.0.0.1:${url.port}`;
    const save = JSON.stringify({ keys: [{ frame: 8, head: [400, 200] }] });
    fs.symlinkSync('/etc/hostname', path.join(take.dir, 'escape.txt'));
    const before = snapshot(take.dir);
    expect((await request('GET', '/api/take', {})).status).toBe(401);
    expect((await request('GET', '/api/take?token=wrong', {})).status).toBe(401);
    expect((await request('GET', '/api/take', { 'x-egox-token': token })).status).toBe(200); // the refusals are not vacuous
    expect((await request('GET', '/api/take', { 'x-egox-token': token, origin: 'http://evil.example' })).status).toBe(403);
    expect((await request('GET', '/api/take', { 'x-egox-token': token, host: 'evil.example' })).status).toBe(403);
    expect((await request('POST', '/api/save', { 'x-egox-token': token, origin: 'http://evil.example', 'content-type': 'application/json' }, save)).status).toBe(403);
    expect((await request('POST', '/api/save', { 'x-egox-token': token, 'content-type': 'application/json' }, save)).status).toBe(403); // no Origin
    expect((await request('POST', '/api/save', { origin: own, 'content-type': 'application/json' }, save)).status).toBe(401);
    expect((await request('GET', '/files/meta.json', { 'x-egox-token': token })).status).toBe(200);
    expect((await request('GET', '/files/..%2F..%2Fetc%2Fpasswd', { 'x-egox-token': token })).status).toBe(403);
    expect((await request('GET', '/files/escape.txt', { 'x-egox-token': token })).status).toBe(403);
    expect((await request('GET', `/files/${encodeURIComponent('/etc/passwd')}`, { 'x-egox-token': token })).status).toBe(403);
    // a meta.json whose prior path leaves the folder: the save is refused before any write
    const meta = JSON.parse(fs.readFileSync(take.meta, 'utf8'));
    meta.test_datasets[0].ego_prior_path = '../ego_Prior.mp4';
    fs.writeFileSync(take.meta, JSON.stringify(meta, null, 2));
    const edited = snapshot(take.dir);
    const r = await request('POST', '/api/save', { 'x-egox-token': token, origin: own, 'content-type': 'application/json' }, save);
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/outside the studio folder/);
    expect(fs.existsSync(path.join(path.dirname(take.dir), 'ego_Prior.mp4'))).toBe(false);
    expect(snapshot(take.dir)).toEqual(edited);
    expect(edited.filter((l) => !l.startsWith('meta.json '))).toEqual(before.filter((l) => !l.startsWith('meta.json ')));
  }, 120_000);
});
