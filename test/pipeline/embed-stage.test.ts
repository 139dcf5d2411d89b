// The embed stage encodes --prompt / --negative-prompt when given, else the take's prompt and "".
import { afterAll, describe, expect, it } from 'vitest';
import { conditioningEmbeddings, runPrompts, type EmbedStageInputs } from '../../src/pipeline/embed-stage.ts';
import type { Embedding } from '../../src/pipeline/embeddings.ts';
import { resolveGenerateOptions } from '../../src/pipeline/generate-options.ts';
import { openModelFolder } from '../../src/pipeline/model-folder.ts';
import { ProgressTracker } from '../../src/pipeline/progress.ts';
import { DEMO_DIT } from '../../src/demo/weights.ts';
import { encodePrompts } from '../../src/model/umt5/index.ts';
import { useDevice } from '../helpers/gpu.ts';
import { makeGenerateFixture, type GenerateFixture } from '../helpers/generate-fixture.ts';

const device = useDevice();
let fx: GenerateFixture | undefined;
afterAll(() => fx?.cleanup());

describe('embed stage prompts', () => {
  it('uses --prompt and --negative-prompt over the take prompt and ""', async () => {
    fx = await makeGenerateFixture('egox-embed-');
    const dev = await device();
    const model = openModelFolder(fx.model);
    const image: Embedding = { shape: [257, DEMO_DIT.imageDim!], data: new Float32Array(257 * DEMO_DIT.imageDim!) };
    const run = async (extra: { prompt?: string; negativePrompt?: string }) => {
      const options = resolveGenerateOptions({ meta: 'm.json', model: fx!.model, out: 'o', weightDtype: 'f32', ...extra });
      const inp: EmbedStageInputs = {
        textEncoder: model.textEncoder,
        imageEncoder: model.imageEncoder,
        tokenizerRoot: model.tokenizerRoot,
        prompts: runPrompts(options, 'a person cooks'),
        given: { image },
        textDim: DEMO_DIT.textDim,
        imageDim: DEMO_DIT.imageDim!,
        load: { weightDtype: options.weightDtype, gpuMemoryBytes: options.gpuMemoryBytes },
      };
      const fail = async () => {
        throw new Error('no decode expected with image embeddings given');
      };
      return conditioningEmbeddings(dev, inp, undefined as never, fail, new ProgressTracker(() => {}));
    };
    const [take, empty, other, neg] = await encodePrompts(dev, model.root!, ['a person cooks', '', 'a dog runs', 'blurry'], { weightDtype: 'f32' });
    const plain = await run({});
    expect(plain.cond.data).toEqual(take);
    expect(plain.uncond.data).toEqual(empty);
    const given = await run({ prompt: 'a dog runs', negativePrompt: 'blurry' });
    expect(given.cond.data).toEqual(other);
    expect(given.uncond.data).toEqual(neg);
    expect(neg).not.toEqual(empty);
  }, 120_000);

  it('refuses --negative-prompt together with --prompt-embeds', () => {
    expect(() => resolveGenerateOptions({ meta: 'm', model: 'x', out: 'o', promptEmbeds: 'p.safetensors', negativePrompt: 'blurry' })).toThrow(
      /--prompt-embeds p.safetensors already holds the encoded prompts/,
    );
  });
});
