// The fuzzer in CI: 5,000 seeded mutations of every kind of file egox reads (safetensors,
// index.json, npy, .pt, GGUF, meta.json, tokenizer.json, every network's config (MoGe-2 and the
// original Wan2.1 release spelling included), LoRA files, model folders). Any crash, hang (over
// 2 s), huge allocation or leaked file handle fails the test, naming the case index to rerun with `npm run fuzz -- --cases N --seed 20261207`.
import { describe, expect, it } from 'vitest';
import { runFuzz } from './fuzz.ts';

describe('fuzzing every loader', () => {
  it('5,000 mutated files: only accepted or one-line input errors', async () => {
    const report = await runFuzz({ cases: 5000, seed: 20261207 });
    const bad = report.failures.map((f) => `case ${f.index} (${f.kind}): ${f.outcome}: ${f.message}`);
    expect(bad).toEqual([]);
    expect(report.byOutcome.accepted + report.byOutcome['input-error']).toBe(5000);
    // The mutations must reach past the parsers: some cases are accepted, most refused.
    expect(report.byOutcome.accepted).toBeGreaterThan(100);
    expect(report.byOutcome['input-error']).toBeGreaterThan(2500);
  }, 600_000);
});
