// `egox generate` without --take: a run killed after its second take (SIGINT, SIGKILL) is
// resumed by running it again (finished takes skipped, the interrupted one redone, nothing
// partial left), summary.json is whole JSON whenever it is read, and the batch options' errors.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseShard } from '../../src/cli/generate-batch.ts';
import { egox, egoxAsync } from '../helpers/cli.ts';
import { makeGenerateFixture, type GenerateFixture } from '../helpers/generate-fixture.ts';
import { FOUR_TAKES, writeBatchMeta } from '../helpers/batch-fixture.ts';

let fx: GenerateFixture;
beforeAll(async () => {
  fx = await makeGenerateFixture('egox-batch-cli-');
}, 120_000);
afterAll(() => fx?.cleanup());

function args(meta: string, out: string): string[] {
  return ['generate', '--meta', meta, '--model', fx.model, '--lora', fx.lora, '--out', out, '--size', '64', '--frames', '5', '--steps', '1',
    '--weight-dtype', 'f32', '--prompt-embeds', fx.promptEmbeds, '--image-embeds', fx.imageEmbeds, '--quiet'];
}

interface KilledRun {
  code: number | null;
  pid: number;
  reads: number;
}

/** Runs the batch, reading summary.json as often as it can; kills the run once two takes are done. */
function runAndKill(meta: string, out: string, signal: NodeJS.Signals): Promise<KilledRun> {
  const child = spawn(process.execPath, [path.join(process.cwd(), 'bin/egox.js'), ...args(meta, out)], { stdio: 'ignore', env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
  let reads = 0;
  let killed = false;
  return new Promise((resolve, reject) => {
    const file = path.join(out, 'summary.json');
    const poll = setInterval(() => {
      if (!fs.existsSync(file)) return;
      let doc: { counts: { done: number } };
      try {
        doc = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (e) {
        clearInterval(poll);
        child.kill('SIGKILL');
        reject(new Error(`summary.json was not whole JSON when read: ${(e as Error).message}`));
        return;
      }
      reads++;
      if (!killed && doc.counts.done >= 2) {
        killed = true;
        child.kill(signal);
      }
    }, 5);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve({ code, pid: child.pid!, reads });
    });
  });
}

describe('egox generate: many takes, killed and resumed', () => {
  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    it(`after ${signal} following the second take, a rerun skips the finished takes and redoes the rest`, async () => {
      const dir = path.join(fx.root, signal);
      const meta = writeBatchMeta(dir, FOUR_TAKES);
      const out = path.join(dir, 'out');
      const killed = await runAndKill(meta, out, signal);
      expect(killed.code).toBe(signal === 'SIGINT' ? 130 : null);
      expect(killed.reads).toBeGreaterThan(0);
      const before = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
      expect(before.finished).toBe(false);
      expect(before.takes.slice(0, 2).map((t: { status: string }) => t.status)).toEqual(['done', 'done']);
      expect(before.takes[2].status).toBe('running');
      // What a killed process of this host left is removed by the rerun, and another host's day-old stage;
      // another host's fresh (live) stage is not touched.
      const stale = path.join(out, `.egox-partial-${os.hostname()}-${killed.pid}-zz`);
      const foreign = path.join(out, '.egox-partial-some-other-host-1-zz');
      const foreignOld = path.join(out, '.egox-partial-rescheduled-pod-1-zz');
      for (const d of [stale, foreign, foreignOld]) fs.mkdirSync(d, { recursive: true }), fs.writeFileSync(path.join(d, 'x.mp4'), 'half');
      const daysAgo = new Date(Date.now() - 86_400_000);
      fs.utimesSync(foreignOld, daysAgo, daysAgo);

      const rerun = await egoxAsync(args(meta, out), { timeoutMs: 600_000 });
      expect(rerun.stderr).toBe('');
      expect(rerun.code).toBe(0);
      const after = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
      expect(after.finished).toBe(true);
      expect(after.takes.map((t: { status: string }) => t.status)).toEqual(['skipped', 'skipped', 'done', 'done']);
      for (const t of FOUR_TAKES) for (const f of [`${t.name}.mp4`, `${t.name}_ego.mp4`, `${t.name}_sheet.png`, `${t.name}.json`]) expect(fs.existsSync(path.join(out, f))).toBe(true);
      expect(fs.readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([path.basename(foreign)]);
    }, 900_000);
  }
});

describe('egox generate: batch options', () => {
  it('--shard auto/N reads the job array index; bad selections are one line, exit 2', () => {
    expect(parseShard('auto/4', { JOB_COMPLETION_INDEX: '0' })).toEqual({ index: 1, count: 4 });
    expect(parseShard('auto/4', { SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_MIN: '5' })).toEqual({ index: 3, count: 4 });
    expect(parseShard('2/3', {})).toEqual({ index: 2, count: 3 });
    expect(() => parseShard('auto/2', { JOB_COMPLETION_INDEX: '2' })).toThrow(/outside 1\.\.2/);
    const meta = writeBatchMeta(path.join(fx.root, 'opts'), FOUR_TAKES);
    const out = path.join(fx.root, 'opts', 'out');
    const cases: [string[], RegExp][] = [
      [['--shard', 'auto/3'], /neither JOB_COMPLETION_INDEX .* nor SLURM_ARRAY_TASK_ID/],
      [['--take', FOUR_TAKES[0]!.name, '--shard', '1/2'], /--shard picks takes of a batch run; drop --take/],
      [['--takes', 'nope,copy_of_soccer'], /no take named 'nope'; available: /],
      [['--takes-from', path.join(fx.root, 'missing.txt')], /--takes-from .*missing\.txt: cannot read it/],
    ];
    for (const [extra, want] of cases) {
      const r = egox([...args(meta, out), ...extra], { env: { JOB_COMPLETION_INDEX: '', SLURM_ARRAY_TASK_ID: '' } });
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(want);
      expect(r.code).toBe(2);
    }
    expect(fs.existsSync(out)).toBe(false);
  }, 300_000);
});
