import { describe, expect, it } from 'vitest';
import { formatDuration, progressReporter } from '../../src/cli/progress-reporter.ts';
import { ProgressTracker, type ProgressEvent } from '../../src/pipeline/progress.ts';

function drive(report: (e: ProgressEvent) => void): void {
  report({ type: 'stage', stage: 'encode', detail: 'exo' });
  report({ type: 'tick', stage: 'encode', done: 1, total: 2, elapsedMs: 1000, etaMs: 1000 });
  report({ type: 'stage-done', stage: 'encode', ms: 2000 });
  report({ type: 'stage', stage: 'denoise', detail: '20 steps' });
  for (let k = 1; k <= 20; k++) report({ type: 'tick', stage: 'denoise', done: k, total: 20, elapsedMs: k * 1000, etaMs: (20 - k) * 1000 });
  report({ type: 'stage-done', stage: 'denoise', ms: 20_000 });
}

describe('progress output', () => {
  it('plain: a line per stage, about ten denoise lines with ETA, stage times', () => {
    let s = '';
    drive(progressReporter('plain', (x) => (s += x)));
    const lines = s.trim().split('\n');
    expect(lines[0]).toBe('VAE encode: exo');
    expect(lines).toContain('  denoise step 2/20, 2s  ETA 18s');
    expect(lines.filter((l) => l.includes('denoise step')).length).toBe(10);
    expect(lines.at(-1)).toBe('  done in 20s');
    expect(s).not.toContain('\r');
  });

  it('tty: a bar redrawn in place, closed before the next line', () => {
    let s = '';
    drive(progressReporter('tty', (x) => (s += x)));
    expect(s).toContain('\r  [############............] 1/2  1s  ETA 1s');
    expect(s).toContain('[########################] 20/20  20s');
    expect(s).toMatch(/20s   \n  done in 20s\n$/);
  });

  it('json: one object per event; quiet: nothing', () => {
    let s = '';
    drive(progressReporter('json', (x) => (s += x)));
    const objs = s.trim().split('\n').map((l) => JSON.parse(l));
    expect(objs[0]).toEqual({ event: 'stage', stage: 'encode', detail: 'exo' });
    expect(objs.filter((o) => o.event === 'tick').length).toBe(21);
    let q = '';
    drive(progressReporter('quiet', (x) => (q += x)));
    expect(q).toBe('');
  });

  it('durations and the tracker', () => {
    expect(formatDuration(59_400)).toBe('59s');
    expect(formatDuration(61_000)).toBe('1m01s');
    expect(formatDuration(3_720_000)).toBe('1h02m');
    const events: ProgressEvent[] = [];
    const t = new ProgressTracker((e) => events.push(e));
    t.begin('load', 'x');
    t.tick(1, 4);
    t.begin('prior', 'y');
    t.end();
    expect(events.map((e) => e.type)).toEqual(['stage', 'tick', 'stage-done', 'stage', 'stage-done']);
    expect(events[1]).toMatchObject({ done: 1, total: 4 });
    expect(Object.keys(t.stageMs)).toEqual(['load', 'prior']);
  });
});
