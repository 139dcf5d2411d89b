// The embed stage encodes --prompt / --negative-prompt when given, else the take's prompt and "";
// a GGUF text encoder given as its own file (--text-encoder X.gguf) takes its tokenizer from --model.
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
import { umt5GgufName } from '../../src/model/umt5/names.ts';
import { readNetwork, writeGgufTwin } from '../model/quantized-twins.ts';
import * as path from 'node:path';

const device = useDevice();
let fx: GenerateFixture | undefined;
afterAll(() => fx?.cleanup());

/** The embed stage of a generate run on the fixture with `model`'s encoders (image embeddings given, so no decode). */
async function embed(model: ReturnType<typeof openModelFolder>, extra: { prompt?: string; negativePrompt?: string }) {
  const image: Embedding = { shape: [257, DEMO_DIT.imageDim!], data: new Float32Array(257 * DEMO_DIT.imageDim!) };
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
  return conditioningEmbeddings(await device(), inp, undefined as never, fail, new ProgressTracker(() => {}));
}

describe('embed stage prompts', () => {
  it('uses --prompt and --negative-prompt over the take prompt and ""', async () => {
    fx = await makeGenerateFixture('egox-embed-');
    const dev = await device();
    const model = openModelFolder(fx.model);
    const run = (extra: { prompt?: string; negativePrompt?: string }) => embed(model, extra);
    const [take, empty, other, neg] = await encodePrompts(dev, model.root!, ['a person cooks', '', 'a dog runs', 'blurry'], { weightDtype: 'f32' });
    const plain = await run({});
    expect(plain.cond.data).toEqual(take);
    expect(plain.uncond.data).toEqual(empty);
    const given = await run({ prompt: 'a dog runs', negativePrompt: 'blurry' });
    expect(given.cond.data).toEqual(other);
    expect(given.uncond.data).toEqual(neg);
    expect(neg).not.toEqual(empty);
  }, 120_000);

  it('--text-encoder X.gguf (Q8_0, llama.cpp names): encoded with the tokenizer of --model', async () => {
    fx ??= await makeGenerateFixture('egox-embed-');
    const dev = await device();
    const gguf = path.join(fx.root, 'umt5-q8_0.gguf');
    const matmul = /(SelfAttention\.[qkvo]|DenseReluDense\.(wi_0|wi_1|wo)|^shared)\.weight$/;
    const net = await readNetwork(path.join(fx.model, 'text_encoder', 'model.safetensors'));
    await writeGgufTwin(net, ['Q8_0'], { rename: umt5GgufName, quantize: (n) => (matmul.test(n) ? 'rows' : undefined) }, { gguf, twin: path.join(fx.root, 'umt5-twin.safetensors') });
    const model = openModelFolder(fx.model, { textEncoder: gguf });
    expect(model.textEncoder).toBe(gguf);
    const got = await embed(model, { prompt: 'a dog runs' });
    const [want, empty] = await encodePrompts(dev, gguf, ['a dog runs', ''], { weightDtype: 'f32' }, fx.model);
    expect(got.cond.data).toEqual(want);
    expect(got.uncond.data).toEqual(empty);
    // the twin safetensors (the dequantized values) through the same path gives the same embeddings
    const [twin] = await encodePrompts(dev, path.join(fx.root, 'umt5-twin.safetensors'), ['a dog runs'], { weightDtype: 'f32' }, fx.model);
    expect(Math.max(...want!.map((v, i) => Math.abs(v - twin![i]!)))).toBeLessThan(1e-5);
  }, 120_000);

  it('refuses --negative-prompt together with --prompt-embeds', () => {
    expect(() => resolveGenerateOptions({ meta: 'm', model: 'x', out: 'o', promptEmbeds: 'p.safetensors', negativePrompt: 'blurry' })).toThrow(
      /--prompt-embeds p.safetensors already holds the encoded prompts/,
    );
  });
});
