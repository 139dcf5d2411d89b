// bench/gpu-check.sh --dry: the GPU machine's script at lavapipe sizes, so it is known to run
// before a GPU is ever lent. Checks that every step passed and left its numbers in OUTDIR.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const out = mkdtempSync(join(tmpdir(), 'egox-gpu-check-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('bench/gpu-check.sh --dry', () => {
  it('rejects a missing OUTDIR and unknown options with exit code 2', () => {
    const none = spawnSync('bash', ['bench/gpu-check.sh'], { encoding: 'utf8' });
    expect(none.status).toBe(2);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    const bad = spawnSync('bash', ['bench/gpu-check.sh', out, '--wet'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("unknown option '--wet'");
  });

  it('runs every step and writes its numbers and logs', () => {
    const r = spawnSync('bash', ['bench/gpu-check.sh', out, '--dry'], { encoding: 'utf8', timeout: 1_500_000 });
    const summary = readFileSync(join(out, 'summary.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
    expect(summary.map((s) => s[0])).toEqual(['info', 'bench', 'dit-block', 'dit-stream', 'demo']);
    expect(summary.filter((s) => s[1] !== '0'), r.stderr).toEqual([]);
    expect(r.status).toBe(0);

    const info = JSON.parse(readFileSync(join(out, 'info.json'), 'utf8'));
    expect(typeof info).toBe('object');
    const bench = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as { kernel: string; ms: number; rounds: number }[];
    expect(bench.length).toBeGreaterThan(0);
    for (const row of bench) {
      expect(row.ms).toBeGreaterThan(0);
      expect(row.rounds).toBeGreaterThanOrEqual(7);
    }
    for (const step of ['dit-block', 'dit-stream']) {
      const res = JSON.parse(readFileSync(join(out, `${step}.result.json`), 'utf8'));
      expect(res.tokens).toBe(88);
      expect(res.weightDtype).toBe('bf16');
      expect(res.streaming).toBe(step === 'dit-stream');
      expect(res.ms).toHaveLength(2);
      expect(res.medianMs).toBeGreaterThan(0);
    }
    // The demo's JSON lines end with its result; its video is in OUTDIR.
    expect(readFileSync(join(out, 'demo.json'), 'utf8').trim().length).toBeGreaterThan(0);
    expect(existsSync(join(out, 'demo'))).toBe(true);
    expect(readFileSync(join(out, 'env.txt'), 'utf8')).toMatch(/^date: .*\nuptime: /);
  }, 1_600_000);
});
