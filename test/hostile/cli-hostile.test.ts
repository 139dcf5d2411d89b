// The CLI's contract under bad input: exit 2 and one sanitised line for every usage and input
// error (subcommands too), nothing written, no progress line first; 1 for internal faults;
// V8 out-of-memory and signal deaths named as what they are, never as an interrupt.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { egox, egoxAsync } from '../helpers/cli.ts';
import { InputError, terminalLine, MAX_ERROR_CHARS } from '../../src/runtime/errors.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { SHARED_META, SOCCER } from '../helpers/generate-fixture.ts';
import { rawSafetensors } from '../helpers/raw-safetensors.ts';

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-hostile-cli-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const lines = (s: string) => s.split('\n').filter((l) => l !== '');

describe('error text', () => {
  it('control bytes are escaped, newlines folded, long text capped with an ellipsis', () => {
    expect(terminalLine('a\rb\x1b[31mc\nd\u2028e')).toBe('a\\rb\\x1b[31mc\\nd\\u2028e');
    const long = terminalLine('x'.repeat(10_000_000));
    expect(long.length).toBe(MAX_ERROR_CHARS);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('library callers get the same safe line', () => {
  it('an input error thrown by a loader is already one printable, capped line', async () => {
    const f = path.join(dir, 'evil-lib.safetensors');
    fs.writeFileSync(f, rawSafetensors(JSON.stringify({ [`a\r\x1b[2J\n${'n'.repeat(5000)}`]: { dtype: 'Q7', shape: [1], data_offsets: [0, 4] } }), new Uint8Array(4)));
    const err = await SafetensorsFile.open(f).then(() => null, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(InputError);
    expect(err!.message).not.toMatch(/[\r\n\x1b]/);
    expect(err!.message).toMatch(/a\\r\\x1b\[2J/);
    expect(err!.message.length).toBeLessThanOrEqual(MAX_ERROR_CHARS);
  });
});

describe('usage errors of every command exit 2 with one line', () => {
  for (const args of [['generate', '--bogus'], ['inspect'], ['generate', '--meta', 'm', '--model', 'x'], ['forward', 'dit', '--bogus'], ['--bogus'], ['plan', '--frames']]) {
    it(`egox ${args.join(' ')}`, () => {
      const r = egox(args);
      expect(r.code).toBe(2);
      expect(lines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toMatch(/^egox: /);
    });
  }
});

describe('input errors', () => {
  it('plan with a billion frames or 4096-px views is one line, not a typed-array RangeError', () => {
    for (const args of [['plan', '--frames', '1000000001'], ['plan', '--ego', '4096x4096', '--exo', '4096x4096']]) {
      const r = egox(args);
      expect(r.code).toBe(2);
      expect(lines(r.stderr)).toHaveLength(1);
      expect(r.stderr).not.toMatch(/internal error/);
    }
  });

  it('raw CR/ESC bytes and a huge tensor name from a file header reach the terminal escaped, in one short line', () => {
    const f = path.join(dir, 'evil.safetensors');
    const name = `a\r\x1b[2J${'n'.repeat(5000)}`;
    fs.writeFileSync(f, rawSafetensors(JSON.stringify({ [name]: { dtype: 'Q7', shape: [1], data_offsets: [0, 4] } }), new Uint8Array(4)));
    const r = egox(['inspect', f]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/[\r\x1b]/);
    expect(r.stderr.length).toBeLessThanOrEqual(MAX_ERROR_CHARS + 1);
  });

  it('a safetensors header nested 20,000 deep: exit 2, not "internal error"', () => {
    const f = path.join(dir, 'deep.safetensors');
    fs.writeFileSync(f, rawSafetensors(`{"t": {"dtype": ${'['.repeat(20_000)}1${']'.repeat(20_000)}, "shape": [1], "data_offsets": [0, 4]}}`, new Uint8Array(4)));
    const r = egox(['inspect', f]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toHaveLength(1);
  });

  for (const [flag, value, pattern] of [
    ['--seed', '1e16', /--seed .*2\^53/],
    ['--steps', '20000', /--steps 20000/],
    ['--gpu-memory', '0.5', /--gpu-memory '0.5'.*at least 1MiB/],
    ['--guidance', '1e9', /--guidance/],
  ] as const) {
    it(`generate ${flag} ${value} is refused up front, nothing written, no progress line`, () => {
      const out = path.join(dir, `out-${flag.slice(2)}`);
      const r = egox(['generate', '--meta', SHARED_META, '--take', SOCCER, '--model', dir, '--out', out, flag, value]);
      expect(r.code).toBe(2);
      expect(lines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
      expect(fs.existsSync(out)).toBe(false);
    });
  }

  it('egox prior --out naming an existing file is refused before rendering', () => {
    const file = path.join(dir, 'taken.txt');
    fs.writeFileSync(file, 'mine');
    const r = egox(['prior', '--meta', SHARED_META, '--take', SOCCER, '--out', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is a file, not a folder/);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(fs.readFileSync(file, 'utf8')).toBe('mine');
  });
});

describe('deaths of the process', () => {
  it('V8 out of memory is reported as such in one line, not as an interrupt', async () => {
    const r = await egoxAsync(['info'], { env: { NODE_OPTIONS: '--max-old-space-size=4' } });
    expect(r.code).not.toBe(130);
    expect(r.code).not.toBe(0);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^egox: out of memory: the JavaScript heap is full/)]);
  });

  it('a SIGKILL of the command is named, not reported as exit 130', async () => {
    // A preload that kills the command process (not the bin/egox.js wrapper) as it starts.
    fs.writeFileSync(path.join(dir, 'die.cjs'), "if (!process.argv[1].endsWith('egox.js')) { process.kill(process.pid, 'SIGKILL'); }");
    const child = spawn(process.execPath, [path.join(process.cwd(), 'bin/egox.js'), 'plan', '--json'], { env: { ...process.env, NODE_OPTIONS: '--require=' + path.join(dir, 'die.cjs') } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(137);
    expect(stderr).toMatch(/^egox: the process was killed by SIGKILL/);
  });
});

describe('embeddings files', () => {
  it('--prompt-embeds with 0 rows is refused up front', async () => {
    const { writeSafetensors } = await import('../../src/io/safetensors-writer.ts');
    const { readEmbeddings } = await import('../../src/pipeline/embeddings.ts');
    const f = path.join(dir, 'empty-embeds.safetensors');
    await writeSafetensors(f, { prompt_embeds: { dtype: 'F32', shape: [0, 64], data: new Float32Array(0) } });
    await expect(readEmbeddings(f, '--prompt-embeds', [{ name: 'prompt_embeds', cols: 64, required: true }])).rejects.toThrow(/has shape \[0, 64\], the model needs \[L, 64\] with L from 1 to 4096/);
  });
});
