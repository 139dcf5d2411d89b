// `egox demo` end to end through the real binary (reduced size and length to keep CI short),
// and an interrupted `egox generate` that must leave no half-written output.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeVideo } from '../../src/io/video.ts';
import { egox, egoxAsync } from '../helpers/cli.ts';
import { makeGenerateFixture, SHARED_META, SOCCER, type GenerateFixture } from '../helpers/generate-fixture.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-demo-cli-'));
let fx: GenerateFixture | undefined;
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  fx?.cleanup();
});

describe('egox demo', () => {
  it('renders the scene, generates weights and encoders, runs every stage, writes every output (--json)', async () => {
    const out = path.join(tmp, 'out');
    const weights = path.join(tmp, 'weights');
    const r = await egoxAsync(['demo', '--out', out, '--weights', weights, '--size', '64', '--frames', '9', '--steps', '2', '--json'], { timeoutMs: 900_000 });
    expect(r.stderr.trim()).toBe('');
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const stages = events.filter((e) => e.event === 'stage').map((e) => e.stage);
    expect(stages).toEqual(['load', 'prior', 'encode', 'embed', 'geometry', 'denoise', 'decode', 'write']);
    // The demo model has encoders, so the prompt and the first frame go through umT5 and CLIP.
    expect(events.find((e) => e.event === 'stage' && e.stage === 'embed').detail).toBe('umT5 prompt, CLIP first frame');
    const result = events.at(-1);
    expect(result.event).toBe('result');
    expect(result.take).toBe('synthetic_room');
    for (const f of result.files) expect(fs.existsSync(f)).toBe(true);
    expect(fs.existsSync(path.join(weights, 'egox-demo-tiny', 'text_encoder', 'model.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'scene', 'meta.json'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'synthetic_room_prior.mp4'))).toBe(true);
  }, 900_000);

  it('--help says the weights are untrained', () => {
    const r = egox(['demo', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/untrained/);
  });
});

describe('interrupting egox generate', () => {
  it('SIGINT during the write stage leaves no video, no PNG and no staging folder; exit 130', async () => {
    fx = await makeGenerateFixture('egox-sigint-');
    const out = path.join(fx.root, 'out');
    const args = ['generate', '--meta', SHARED_META, '--take', SOCCER, '--model', fx.model, '--out', out, '--size', '64', '--frames', '9', '--steps', '1',
      '--prompt-embeds', fx.promptEmbeds, '--image-embeds', fx.imageEmbeds, '--png', '--json'];
    const child = spawn(process.execPath, [path.join(process.cwd(), 'bin/egox.js'), ...args], { env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
    let stdout = '';
    let sent = false;
    child.stdout.on('data', (d) => {
      stdout += d.toString();
      if (!sent && /"event":"stage","stage":"write"/.test(stdout)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(sent).toBe(true);
    expect(stdout).not.toMatch(/"event":"result"/);
    expect(code).toBe(130);
    const left = fs.existsSync(out) ? fs.readdirSync(out, { recursive: true }).map(String) : [];
    expect(left).toEqual([]);
  }, 600_000);

  it('a finished run is a valid H.264 video at 30 fps', async () => {
    // The fixture's uninterrupted run: same inputs, the videos land in --out.
    const out = path.join(fx!.root, 'out-full');
    const r = await egoxAsync(['generate', '--meta', SHARED_META, '--take', SOCCER, '--model', fx!.model, '--out', out, '--size', '64', '--frames', '9', '--steps', '1',
      '--prompt-embeds', fx!.promptEmbeds, '--image-embeds', fx!.imageEmbeds, '--quiet'], { timeoutMs: 600_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const info = await probeVideo(path.join(out, `${SOCCER}.mp4`));
    expect([info.width, info.height, info.fps, info.frames]).toEqual([176, 64, 30, 9]);
  }, 600_000);
});
