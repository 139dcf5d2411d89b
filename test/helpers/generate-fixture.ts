// A small, complete generate setup for tests: the demo's tiny random model folder and LoRA,
// stand-in embedding files, and paths to the shared real example data.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeSafetensors } from '../../src/io/safetensors-writer.ts';
import { DEMO_DIT, ensureDemoWeights } from '../../src/demo/weights.ts';
import { SeededRandom } from '../../src/pipeline/random.ts';

export const SHARED = '../shared/data/egoexo4d';
export const SHARED_META = path.join(SHARED, 'meta.json');
export const SOCCER = 'cmu_soccer06_6_877_925';

export interface GenerateFixture {
  root: string;
  model: string;
  lora: string;
  promptEmbeds: string;
  imageEmbeds: string;
  cleanup(): void;
}

export async function makeGenerateFixture(prefix: string): Promise<GenerateFixture> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const w = await ensureDemoWeights(path.join(root, 'weights'));
  const rng = new SeededRandom(11);
  const promptEmbeds = path.join(root, 'prompt.safetensors');
  const imageEmbeds = path.join(root, 'image.safetensors');
  const t = DEMO_DIT.textDim;
  await writeSafetensors(promptEmbeds, {
    prompt_embeds: { dtype: 'F32', shape: [512, t], data: rng.normal(512 * t) },
    negative_prompt_embeds: { dtype: 'F32', shape: [512, t], data: rng.normal(512 * t) },
  });
  await writeSafetensors(imageEmbeds, { image_embeds: { dtype: 'F32', shape: [257, DEMO_DIT.imageDim!], data: rng.normal(257 * DEMO_DIT.imageDim!) } });
  return { root, model: w.modelDir, lora: w.loraPath, promptEmbeds, imageEmbeds, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}
