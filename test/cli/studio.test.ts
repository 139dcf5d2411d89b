// `egox studio` refuses bad input before serving anything: one line, exit code 2.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { egox } from '../helpers/cli.ts';
import { StudioFolder } from '../../src/cli/studio/folder.ts';

function expectOneLine(r: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(r.code).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('egox:'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stdout).not.toMatch(/http:/);
}

describe('egox studio: bad input', () => {
  it('a folder without meta.json, a missing path, a bad port', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-studio-empty-'));
    try {
      expectOneLine(egox(['studio', empty]), /holds no meta\.json; give a take folder/);
      expectOneLine(egox(['studio', path.join(empty, 'nope')]), /does not exist/);
      expectOneLine(egox(['studio', empty, '--port', 'x']), /--port x: must be a whole number/);
    } finally {
      fs.rmSync(empty, { recursive: true });
    }
  });

  it("a take whose files lie outside DIR (here: meta.json's exo_path leaves the folder)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-studio-outside-'));
    try {
      const shared = path.resolve('../shared/data/egoexo4d');
      const root = JSON.parse(fs.readFileSync(path.join(shared, 'meta.json'), 'utf8'));
      const entry = root.test_datasets[0];
      const name = path.basename(path.dirname(entry.exo_path));
      entry.exo_path = path.join(shared, 'videos', name, 'exo.mp4'); // absolute, outside
      fs.cpSync(path.join(shared, 'depth_maps', name), path.join(dir, 'depth_maps', name), { recursive: true });
      fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ test_datasets: [entry] }));
      expectOneLine(egox(['studio', dir]), /outside .*reads and writes only inside DIR/);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('StudioFolder follows symlinks before judging a path', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-studio-links-'));
    try {
      fs.writeFileSync(path.join(dir, 'meta.json'), '{}');
      fs.symlinkSync(os.tmpdir(), path.join(dir, 'up'));
      const f = StudioFolder.open(dir);
      expect(f.contains('meta.json')).toBe(true);
      expect(f.contains('new-file.mp4')).toBe(true); // not there yet: judged by its folder
      expect(f.contains('up/x.mp4')).toBe(false);
      expect(f.contains('../x')).toBe(false);
      expect(f.contains('/etc/passwd')).toBe(false);
      expect(f.contains('missing-folder/x')).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});
