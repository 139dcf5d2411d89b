// Ctrl-C or a SIGTERM at any stage of `egox generate` leaves --out exactly as it was: older
// outputs untouched, nothing new, no staging folder. One run per stage (demo weights, 64 px,
// 9 frames, 1 step), killed when that stage's progress line appears; the signals alternate.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeGenerateFixture, SHARED_META, SOCCER, type GenerateFixture } from '../helpers/generate-fixture.ts';

let fx: GenerateFixture;
beforeAll(async () => { fx = await makeGenerateFixture('egox-interrupt-'); }, 300_000);
afterAll(() => fx?.cleanup());

/** Every file under `dir` with its content, so "as it was" can be compared exactly. */
function snapshot(dir: string): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const rel of fs.readdirSync(dir, { recursive: true }).map(String)) {
    const p = path.join(dir, rel);
    out[rel] = fs.statSync(p).isDirectory() ? '<dir>' : fs.readFileSync(p, 'utf8');
  }
  return out;
}

const STAGES = ['load', 'prior', 'encode', 'embed', 'geometry', 'denoise', 'decode', 'write'] as const;

describe('interrupting egox generate at every stage', () => {
  STAGES.forEach((stage, i) => {
    const signal = i % 2 === 0 ? 'SIGINT' : 'SIGTERM';
    it(`${signal} at the ${stage} stage leaves --out as it was`, async () => {
      const out = path.join(fx.root, `out-${stage}`);
      // An older run's output is there; with --png a png/ folder too.
      fs.mkdirSync(path.join(out, 'png'), { recursive: true });
      fs.writeFileSync(path.join(out, `${SOCCER}.mp4`), 'older run');
      fs.writeFileSync(path.join(out, 'png', 'keep.txt'), 'mine');
      const before = snapshot(out);
      const args = ['generate', '--meta', SHARED_META, '--take', SOCCER, '--model', fx.model, '--out', out, '--size', '64', '--frames', '9', '--steps', '1',
        '--prompt-embeds', fx.promptEmbeds, '--image-embeds', fx.imageEmbeds, '--render-prior', '--png', '--json'];
      const child = spawn(process.execPath, [path.join(process.cwd(), 'bin/egox.js'), ...args], { env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
      let stdout = '';
      let sent = false;
      child.stdout.on('data', (d) => {
        stdout += d.toString();
        if (!sent && stdout.includes(`"event":"stage","stage":"${stage}"`)) {
          sent = true;
          child.kill(signal);
        }
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(sent, stderr).toBe(true);
      expect(stdout).not.toMatch(/"event":"result"/);
      expect(code).toBe(signal === 'SIGINT' ? 130 : 143);
      expect(snapshot(out)).toEqual(before);
    }, 600_000);
  });

  it('a run whose --out did not exist leaves no folder behind', async () => {
    const out = path.join(fx.root, 'fresh', 'out');
    const args = ['generate', '--meta', SHARED_META, '--take', SOCCER, '--model', fx.model, '--out', out, '--size', '64', '--frames', '9', '--steps', '1',
      '--prompt-embeds', fx.promptEmbeds, '--image-embeds', fx.imageEmbeds, '--json'];
    const child = spawn(process.execPath, [path.join(process.cwd(), 'bin/egox.js'), ...args], { env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d.toString();
      if (stdout.includes('"stage":"write"')) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(130);
    expect(fs.existsSync(path.join(fx.root, 'fresh'))).toBe(false);
  }, 600_000);
});
