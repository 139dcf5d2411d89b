import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/io/npy.ts';
import { MetaError, loadEgoxMeta, loadEgoxTake, readDepthFrame } from '../../src/io/meta.ts';
import { META } from '../recon/golden.ts';

const SOCCER = 'cmu_soccer06_6_877_925';
const COOKING = 'iiith_cooking_57_2_2451_2499';
const realMeta = JSON.parse(fs.readFileSync(META, 'utf8')) as { test_datasets: Record<string, unknown>[] };

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-meta-'));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let counter = 0;

/** Writes a meta.json (text or object) into a fresh folder and returns its path. */
function writeMeta(content: unknown): string {
  const dir = path.join(tmpRoot, `m${counter++}`);
  fs.mkdirSync(dir);
  const file = path.join(dir, 'meta.json');
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function oneTake(mutate: (t: Record<string, unknown>) => void): { test_datasets: Record<string, unknown>[] } {
  const t = structuredClone(realMeta.test_datasets[0]!);
  mutate(t);
  return { test_datasets: [t] };
}

function errorOf(fn: () => unknown): MetaError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MetaError);
    const err = e as MetaError;
    expect(err.exitCode).toBe(2);
    expect(err.message).not.toContain('\n');
    return err;
  }
  throw new Error('expected a MetaError');
}

describe('loadEgoxMeta / loadEgoxTake on the real example data', () => {
  it('loads both takes with resolved paths and validated depth folders', () => {
    const takes = loadEgoxMeta(META);
    expect(takes.map((t) => t.name)).toEqual([SOCCER, COOKING]);
    const t = loadEgoxTake(META, COOKING);
    expect(t.index).toBe(1);
    expect(t.exoPath).toBe(path.resolve(path.dirname(META), 'videos', COOKING, 'exo.mp4'));
    expect(fs.existsSync(t.exoPath)).toBe(true);
    expect(fs.existsSync(t.egoPriorPath)).toBe(true);
    expect(t.egoGtPath && fs.existsSync(t.egoGtPath)).toBe(true);
    expect(t.depthDir).toBe(path.resolve(path.dirname(META), 'depth_maps', COOKING));
    expect(t.depthFiles.length).toBe(49);
    expect(path.basename(t.depthFiles[0]!)).toBe('00000.npy');
    expect(path.basename(t.depthFiles[48]!)).toBe('00048.npy');
    expect(t.depthShape).toEqual([448, 796]);
    expect(t.egoExtrinsics.length).toBe(49);
    expect(t.exoIntrinsics[2]).toBe(1920);
    expect(t.egoIntrinsics[0]).toBe(150);
    const raw = realMeta.test_datasets[1]!['ego_extrinsics'] as number[][][];
    expect(Array.from(t.egoExtrinsics[7]!)).toEqual(raw[7]!.flat());
    expect(t.prompt.startsWith('[Exo view]')).toBe(true);
    const d = readDepthFrame(t, 4);
    expect(d.length).toBe(448 * 796);
  });

  it('without a take name, a two-take meta is an error that lists the takes', () => {
    const e = errorOf(() => loadEgoxTake(META));
    expect(e.message).toContain(SOCCER);
    expect(e.message).toContain(COOKING);
  });
});

describe('meta.json validation errors', () => {
  it('bad JSON', () => {
    const f = writeMeta('{"test_datasets": [ {"exo_path": "./videos/x/exo.mp4", }');
    const e = errorOf(() => loadEgoxMeta(f));
    expect(e.message).toMatch(new RegExp(`^${escape(f)}: not valid JSON`));
  });

  it('unreadable file', () => {
    const e = errorOf(() => loadEgoxMeta(path.join(tmpRoot, 'nope.json')));
    expect(e.message).toContain('cannot read meta file');
  });

  it('no test_datasets list', () => {
    const e = errorOf(() => loadEgoxMeta(writeMeta({ takes: [] })));
    expect(e.field).toBe('test_datasets');
  });

  it('missing field names the file, take and field', () => {
    const f = writeMeta(oneTake((t) => delete t['camera_extrinsics']));
    const e = errorOf(() => loadEgoxMeta(f));
    expect(e.message).toBe(`${f}: take '${SOCCER}': field 'camera_extrinsics': missing; give a 3x4 matrix`);
    const g = errorOf(() => loadEgoxMeta(writeMeta(oneTake((t) => delete t['prompt']))));
    expect(g.field).toBe('prompt');
    const h = errorOf(() => loadEgoxMeta(writeMeta(oneTake((t) => delete t['exo_path']))));
    expect(h.take).toBe('test_datasets[0]');
    expect(h.field).toBe('exo_path');
  });

  it('3x3 extrinsics', () => {
    const f = writeMeta(oneTake((t) => (t['camera_extrinsics'] = (t['camera_intrinsics'] as number[][]).map((r) => [...r]))));
    const e = errorOf(() => loadEgoxMeta(f));
    expect(e.take).toBe(SOCCER);
    expect(e.field).toBe('camera_extrinsics');
    expect(e.message).toContain('must be a 3x4 matrix, got 3x3');
    const g = errorOf(() => loadEgoxMeta(writeMeta(oneTake((t) => ((t['ego_extrinsics'] as number[][][])[5] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]])))));
    expect(g.field).toBe('ego_extrinsics[5]');
  });

  it('48 ego poses (count is a parameter)', () => {
    const f = writeMeta(oneTake((t) => (t['ego_extrinsics'] as unknown[]).splice(48)));
    const e = errorOf(() => loadEgoxMeta(f));
    expect(e.field).toBe('ego_extrinsics');
    expect(e.message).toContain('has 48 poses, need at least 49');
    expect(loadEgoxMeta(f, { requiredEgoPoses: 48 })[0]!.egoExtrinsics.length).toBe(48);
  });

  it('non-finite numbers, including Python json NaN / Infinity', () => {
    const text = JSON.stringify(oneTake(() => {})).replace('"camera_intrinsics":[[', '"camera_intrinsics":[[NaN,');
    const fixed = text.replace(/\[\[NaN,([^,\]]+),/, '[[NaN,'); // keep the row 3 long
    const e = errorOf(() => loadEgoxMeta(writeMeta(fixed)));
    expect(e.field).toBe('camera_intrinsics');
    expect(e.message).toContain('element [0][0] is NaN');
    const inf = JSON.stringify(oneTake(() => {})).replace(/("ego_intrinsics":\[\[)[^,]+/, '$1-Infinity');
    expect(errorOf(() => loadEgoxMeta(writeMeta(inf))).message).toContain('element [0][0] is -Infinity');
    const str = errorOf(() => loadEgoxMeta(writeMeta(oneTake((t) => ((t['camera_extrinsics'] as unknown[][])[1]![2] = '0.5')))));
    expect(str.message).toContain('element [1][2] is a string');
    // "NaN" inside a string (the prompt) is not a number token and stays untouched.
    expect(loadEgoxMeta(writeMeta(oneTake((t) => (t['prompt'] = 'NaN Infinity'))))[0]!.prompt).toBe('NaN Infinity');
  });

  it('unknown take name lists the available takes', () => {
    const e = errorOf(() => loadEgoxTake(META, 'soccer'));
    expect(e.take).toBe('soccer');
    expect(e.message).toContain(`available: ${SOCCER}, ${COOKING}`);
  });
});

describe('depth folder validation', () => {
  function takeWithDepth(files: Record<string, Float32Array | Int32Array>, shape: number[][] | number[]): string {
    const f = writeMeta(oneTake(() => {}));
    const dir = path.join(path.dirname(f), 'depth_maps', SOCCER);
    fs.mkdirSync(dir, { recursive: true });
    Object.entries(files).forEach(([name, data], i) => {
      const s = (Array.isArray(shape[0]) ? (shape as number[][])[i] : shape) as number[];
      writeNpy(path.join(dir, name), { dtype: data instanceof Int32Array ? 'i4' : 'f4', shape: s, data });
    });
    return f;
  }
  const frames = (n: number, h = 4, w = 6) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`depth_${String(i).padStart(6, '0')}.npy`, new Float32Array(h * w).fill(i + 1)]));

  it('default folder <meta dir>/depth_maps/<take>, sorted, one shape', () => {
    const f = takeWithDepth(frames(3), [4, 6]);
    const t = loadEgoxTake(f, SOCCER, { requiredDepthFrames: 3 });
    expect(t.depthFiles.map((p) => path.basename(p))).toEqual(['depth_000000.npy', 'depth_000001.npy', 'depth_000002.npy']);
    expect(t.depthShape).toEqual([4, 6]);
    expect(readDepthFrame(t, 2)[0]).toBe(3);
    // Relative paths resolve against the meta file's folder, not the working directory.
    expect(t.exoPath).toBe(path.join(path.dirname(f), 'videos', SOCCER, 'exo.mp4'));
  });

  it('too few files', () => {
    const f = takeWithDepth(frames(3), [4, 6]);
    const e = errorOf(() => loadEgoxTake(f, SOCCER));
    expect(e.field).toBe('depth');
    expect(e.message).toContain('holds 3 .npy files, need at least 49');
  });

  it('shape mismatch names both files', () => {
    const fr = frames(3);
    fr['depth_000002.npy'] = new Float32Array(4 * 7);
    const f = takeWithDepth(fr, [[4, 6], [4, 6], [4, 7]]);
    const e = errorOf(() => loadEgoxTake(f, SOCCER, { requiredDepthFrames: 3 }));
    expect(e.message).toContain('depth_000002.npy has shape [4, 7]');
    expect(e.message).toContain('all depth maps must share one shape');
  });

  it('wrong dtype, missing folder, and the override', () => {
    const fr: Record<string, Float32Array | Int32Array> = frames(2);
    fr['depth_000001.npy'] = new Int32Array(24);
    const f = takeWithDepth(fr, [4, 6]);
    expect(errorOf(() => loadEgoxTake(f, SOCCER, { requiredDepthFrames: 2 })).message).toContain('dtype i4');
    const missing = errorOf(() => loadEgoxTake(f, SOCCER, { depthDir: path.join(tmpRoot, 'none') }));
    expect(missing.message).toContain('cannot read depth folder');
    const real = loadEgoxTake(f, SOCCER, { depthDir: path.join(path.dirname(META), 'depth_maps', SOCCER) });
    expect(real.depthFiles.length).toBe(49);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
