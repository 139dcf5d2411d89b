// src/demo sits on top of the pipeline: the EgoX run and every layer below it must work (and be
// publishable) without the demo, so none of them may import it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsInto, importSpecifiers, tsFilesUnder } from '../helpers/imports.ts';

const DEMO = 'src/demo';
const BELOW_DEMO = ['src/pipeline', 'src/model', 'src/graph', 'src/kernels', 'src/recon', 'src/io', 'src/runtime'];

describe('nothing below src/demo imports it', () => {
  it('finds every kind of import the check relies on', () => {
    const src = [
      "import { a } from '../demo/run.ts';",
      "export { b } from './x.ts';",
      "import {\n  c,\n  d,\n} from '../../demo/scene/index.ts';",
      "import '../demo/side-effect.ts';",
      "const m = await import('../demo/weights.ts');",
    ].join('\n');
    expect(importSpecifiers(src)).toEqual(['../demo/run.ts', './x.ts', '../../demo/scene/index.ts', '../demo/side-effect.ts', '../demo/weights.ts']);
    expect(importsInto('src/pipeline/generate.ts', src, DEMO)).toEqual(['../demo/run.ts', '../demo/side-effect.ts', '../demo/weights.ts']);
    // A sibling folder whose name starts with "demo" is not the demo.
    expect(importsInto('src/pipeline/a.ts', "import x from '../demo-like/x.ts';", DEMO)).toEqual([]);
  });

  it.each(BELOW_DEMO)('%s', (dir) => {
    const files = tsFilesUnder(dir);
    expect(files.length).toBeGreaterThan(0);
    const offenders = files.flatMap((f) => importsInto(f, fs.readFileSync(f, 'utf8'), DEMO).map((s) => `${path.relative('.', f)} imports ${s}`));
    expect(offenders).toEqual([]);
  });

  it('resolves real imports (the demo does import the pipeline)', () => {
    const demoImportsPipeline = tsFilesUnder(DEMO).some((f) => importsInto(f, fs.readFileSync(f, 'utf8'), 'src/pipeline').length > 0);
    expect(demoImportsPipeline).toBe(true);
  });
});
