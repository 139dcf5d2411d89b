// The README's library example, extracted and run as a user would (import from 'egox').
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';

const file = path.join(process.cwd(), `.readme-example-${process.pid}.mts`);
afterAll(() => {
  fs.rmSync(file, { force: true });
  fs.rmSync('out/library-example', { recursive: true, force: true });
});

describe('README library example', () => {
  it('runs and writes the video it reports', async () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    const m = /<!-- library-example -->\n```ts\n([\s\S]*?)```/.exec(readme);
    expect(m, 'README has the marked example').not.toBeNull();
    fs.writeFileSync(file, m![1]!);
    const tsx = createRequire(import.meta.url).resolve('tsx');
    // Asynchronous: a worker blocked for minutes stalls vitest's RPC.
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', tsx, file], { env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d.toString()));
      child.stderr.on('data', (d) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^load: inputs checked$/m);
    expect(r.stdout).toMatch(/^denoise: 2 steps/m);
    const video = /wrote (\S+\.mp4) in \d+ ms/.exec(r.stdout)?.[1];
    expect(video).toBeDefined();
    expect(fs.statSync(video!).size).toBeGreaterThan(1000);
  }, 600_000);
});
