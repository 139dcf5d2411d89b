// Outputs are committed all or none: a folder where a file must go is found before the first
// move, and a move that fails half-way puts back what was there.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputFolderError, OutputStage } from '../../src/pipeline/staging.ts';

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-hostile-stage-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const list = (d: string) => fs.readdirSync(d, { recursive: true }).map(String).sort();

function stageWith(out: string, files: Record<string, string>): OutputStage {
  const s = OutputStage.open(out);
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(s.path(name), content);
  return s;
}

describe('staging', () => {
  it('a folder named like the last output (take.json) stops the commit before any video moves', () => {
    const out = path.join(dir, 'folder-in-way');
    fs.mkdirSync(path.join(out, 'take.json'), { recursive: true });
    const s = stageWith(out, { 'take.mp4': 'v', 'take_ego.mp4': 'e', 'take.json': '{}' });
    expect(() => s.commit()).toThrow(OutputFolderError);
    expect(list(out)).toEqual(['take.json']);
  });

  it('the same folder is found up front by checkDestinations', () => {
    const out = path.join(dir, 'folder-in-way');
    expect(() => OutputStage.checkDestinations(out, ['take.mp4', 'take.json'])).toThrow(/take\.json exists and is not a file/);
    fs.writeFileSync(path.join(dir, 'png'), 'a file where a folder must go');
    expect(() => OutputStage.checkDestinations(dir, ['png/x_00000.png'])).toThrow(/is a file where the run needs a folder/);
  });

  it('a move failing half-way restores the older files and leaves no new one', () => {
    const out = path.join(dir, 'rollback');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'a.mp4'), 'old a');
    const s = stageWith(out, { 'a.mp4': 'new a', 'b.mp4': 'new b', 'c.json': 'new c' });
    fs.rmSync(path.join(s.dir, 'c.json')); // the last move will fail (ENOENT)
    expect(() => s.commit()).toThrow(/ENOENT/);
    expect(list(out)).toEqual(['a.mp4']);
    expect(fs.readFileSync(path.join(out, 'a.mp4'), 'utf8')).toBe('old a');
  });

  it('a commit replaces older files and an abort removes an --out it created', () => {
    const out = path.join(dir, 'ok');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'a.mp4'), 'old');
    stageWith(out, { 'a.mp4': 'new', 'png/x.png': 'p' }).commit();
    expect(list(out)).toEqual(['a.mp4', 'png', 'png/x.png']);
    expect(fs.readFileSync(path.join(out, 'a.mp4'), 'utf8')).toBe('new');
    const fresh = path.join(dir, 'new-parent', 'out');
    stageWith(fresh, { 'a.mp4': 'x' }).abort();
    expect(fs.existsSync(path.join(dir, 'new-parent'))).toBe(false);
  });
});
