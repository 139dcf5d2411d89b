// Videos that lie about themselves: a PNG renamed to .mp4, a stream whose container states no
// frame count. The input check counts frames by decoding and names the file and the cause.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeVideo, probeVideo, VideoError } from '../../src/io/video.ts';
import { encodePng } from '../../src/io/png.ts';

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-hostile-video-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const gray = (w: number, h: number, v: number) => new Uint8Array(w * h * 3).fill(v);

describe('probing input videos', () => {
  it('a PNG saved as exo.mp4 is "a still image", naming the file', async () => {
    const f = path.join(dir, 'exo.mp4');
    fs.writeFileSync(f, encodePng(16, 16, 3, gray(16, 16, 128)));
    const err = await probeVideo(f, { countFrames: true }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(VideoError);
    expect((err as Error).message).toMatch(new RegExp(`^${f}: is a still image \\(png\\)`));
  });

  it('a 3-frame stream in a container that states no count is counted by decoding', async () => {
    const mp4 = path.join(dir, 'three.mp4');
    await encodeVideo(mp4, [gray(16, 16, 10), gray(16, 16, 90), gray(16, 16, 200)], { width: 16, height: 16, fps: 30 });
    const mkv = path.join(dir, 'exo.mkv');
    const r = spawnSync('ffmpeg', ['-v', 'error', '-i', mp4, '-c', 'copy', mkv]);
    expect(r.status).toBe(0);
    expect((await probeVideo(mkv)).frames).toBeUndefined(); // Matroska does not say
    expect((await probeVideo(mkv, { countFrames: true })).frames).toBe(3);
  });
});
