// Hostile and careless configs of every network: null, absurd numbers, fields that disagree
// with the weights. Each is one line (an InputError) before any graph is built, and the
// checkpoint opened to check it is closed again.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoWeights, DEMO_DIT } from '../../src/demo/weights.ts';
import { openWanCheckpoint } from '../../src/model/wan/load.ts';
import { configFromDiffusersJson } from '../../src/model/wan/config.ts';
import { openVaeCheckpoint } from '../../src/model/vae/checkpoint.ts';
import { configFromJson as vaeConfigFromJson } from '../../src/model/vae/config.ts';
import { umt5ConfigFromJson } from '../../src/model/umt5/config.ts';
import { clipConfigFromJson, preprocessConfigFromJson } from '../../src/model/clip/config.ts';
import { openModelFolder } from '../../src/pipeline/model-folder.ts';
import { InputError } from '../../src/runtime/errors.ts';

let root = '';
let model = '';
beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-hostile-cfg-'));
  model = (await ensureDemoWeights(path.join(root, 'weights'))).modelDir;
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const openFds = () => fs.readdirSync('/proc/self/fd').length;

function oneLine(f: () => unknown, pattern: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InputError);
  expect((err as Error).message).not.toMatch(/\n/);
  expect((err as Error).message).toMatch(pattern);
}

/** A copy of the demo transformer/ (or vae/) with config.json replaced by `text`. */
function withConfig(part: 'transformer' | 'vae', text: string): string {
  const dir = fs.mkdtempSync(path.join(root, `${part}-`));
  for (const f of fs.readdirSync(path.join(model, part))) fs.copyFileSync(path.join(model, part, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'config.json'), text);
  return dir;
}

const transformerJson = () => JSON.parse(fs.readFileSync(path.join(model, 'transformer', 'config.json'), 'utf8')) as Record<string, unknown>;

describe('Wan transformer config.json', () => {
  const cases: [string, (j: Record<string, unknown>) => unknown, RegExp][] = [
    ['null', () => null, /expected a JSON object/],
    ['attention_head_dim 64e9', (j) => ({ ...j, attention_head_dim: 64e9 }), /attention_head_dim' must be a whole number from 1 to 4096/],
    ['num_layers 2^31', (j) => ({ ...j, num_layers: 2 ** 31 }), /num_layers' must be a whole number/],
    ['num_layers 3 with a 2-block checkpoint', (j) => ({ ...j, num_layers: 3 }), /blocks\.2\..* missing from the checkpoint/],
    ['num_layers 1 with a 2-block checkpoint', (j) => ({ ...j, num_layers: 1 }), /checkpoint has more blocks/],
    ['ffn_dim off by one', (j) => ({ ...j, ffn_dim: (j.ffn_dim as number) + 1 }), /ffn_dim/],
    ['patch_size a string', (j) => ({ ...j, patch_size: 'big' }), /patch_size "big" is not supported/],
    ['eps NaN-like string', (j) => ({ ...j, eps: 'nan' }), /'eps' must be a number/],
  ];
  for (const [name, mutate, pattern] of cases) {
    it(`${name}: one line, checkpoint closed`, async () => {
      const dir = withConfig('transformer', JSON.stringify(mutate(transformerJson())));
      const before = openFds();
      const err = await openWanCheckpoint(dir).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(pattern);
      expect(openFds()).toBe(before);
    });
  }

  it("the original Wan2.1 spelling (dim, num_heads, in_dim...) gives the same config", async () => {
    const c = DEMO_DIT;
    const original = { _class_name: 'WanModel', model_type: 'i2v', dim: c.dim, ffn_dim: c.ffnDim, num_heads: c.numHeads, num_layers: c.numLayers, in_dim: c.inDim, out_dim: c.outDim, text_dim: c.textDim, freq_dim: c.freqDim, eps: c.eps };
    const fromOriginal = configFromDiffusersJson(original, 'x');
    const fromDiffusers = configFromDiffusersJson(transformerJson(), 'x');
    expect({ ...fromOriginal, name: '', imageDim: 0 }).toEqual({ ...fromDiffusers, name: '', imageDim: 0 });
    expect(fromOriginal.imageDim).toBe(1280); // the original repo's I2V always has CLIP ViT-H's width
  });
});

describe('VAE config.json', () => {
  for (const [name, text, pattern] of [
    ['null', 'null', /expected a JSON object/],
    ['num_res_blocks 1e300', '{"num_res_blocks": 1e300}', /num_res_blocks' must be a whole number from 1 to 16/],
    ['dim_mult of 10,000 levels', `{"dim_mult": [${Array(10_000).fill(1).join(',')}]}`, /dim_mult' must be a list of 1 to 8/],
    ['base_dim unlike the weights', '{"base_dim": 96}', /base_dim 96 does not match the weights/],
    ['deeply nested', '['.repeat(50_000), /nested deeper/],
  ] as const) {
    it(`${name}: one line, checkpoint closed`, async () => {
      const dir = withConfig('vae', text);
      const before = openFds();
      const err = await openVaeCheckpoint(dir).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(pattern);
      expect(openFds()).toBe(before);
    });
  }
});

describe('encoder, preprocessor and scheduler configs', () => {
  it('null or absurd encoder configs are one line', () => {
    oneLine(() => umt5ConfigFromJson(null, 'te/config.json'), /expected a JSON object/);
    oneLine(() => umt5ConfigFromJson({ vocab_size: 1e12, d_model: 8, num_heads: 2, d_kv: 4, d_ff: 8, num_layers: 1 }, 'te'), /vocab_size/);
    oneLine(() => clipConfigFromJson(null, 'ie/config.json'), /expected a JSON object/);
    oneLine(() => clipConfigFromJson({ vision_config: 5 }, 'ie/config.json'), /vision_config.*expected a JSON object/);
    oneLine(() => clipConfigFromJson({ hidden_size: 64e9, intermediate_size: 8, num_attention_heads: 2, num_hidden_layers: 2, image_size: 28, patch_size: 14 }, 'ie'), /hidden_size/);
    oneLine(() => preprocessConfigFromJson(null, 'ip/preprocessor_config.json'), /expected a JSON object/);
    oneLine(() => preprocessConfigFromJson({ size: { shortest_edge: 1e9 } }, 'ip'), /'size' must be a size of 1 to 8192/);
    oneLine(() => preprocessConfigFromJson({ image_std: [0, 1, 1] }, 'ip'), /image_std/);
    oneLine(() => vaeConfigFromJson({ latents_std: [1, 'x'] }, 'vae'), /latents_std/);
  });

  it('null, a number class name and a huge flow_shift in scheduler_config.json are one line', () => {
    for (const [text, pattern] of [['null', /expected a JSON object/], ['{"_class_name": 5}', /_class_name must be a string/], ['{"flow_shift": 1e300}', /flow_shift must be a number in/]] as const) {
      const dir = fs.mkdtempSync(path.join(root, 'model-'));
      fs.cpSync(model, dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'scheduler', 'scheduler_config.json'), text);
      oneLine(() => openModelFolder(dir), pattern);
    }
  });
});
