// What the fuzzer feeds: for each kind of file egox reads, a valid seed and the loader that
// reads it the way a command does. A target builds its mutated input in `dir` and returns the
// load; the load returning is "accepted", throwing is classified by the runner.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSafetensorsHeader } from '../../src/io/safetensors-writer.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { Checkpoint } from '../../src/io/checkpoint.ts';
import { inspectCheckpoint } from '../../src/io/inspect.ts';
import { encodeNpy, parseNpy } from '../../src/io/npy.ts';
import { decodePng, encodePng } from '../../src/io/png.ts';
import { loadEgoxMeta } from '../../src/io/meta.ts';
import { readJsonFile } from '../../src/io/model-layout.ts';
import { PytorchCheckpoint } from '../../src/io/pytorch/index.ts';
import { UnigramTokenizer } from '../../src/model/text/tokenizer.ts';
import { openWanCheckpoint } from '../../src/model/wan/load.ts';
import { WanModel } from '../../src/model/wan/model.ts';
import { openVaeCheckpoint } from '../../src/model/vae/checkpoint.ts';
import { decoderBlocks, encoderLayers } from '../../src/model/vae/config.ts';
import { umt5ConfigFromJson } from '../../src/model/umt5/config.ts';
import { clipConfigFromJson, preprocessConfigFromJson } from '../../src/model/clip/config.ts';
import { openModelFolder } from '../../src/pipeline/model-folder.ts';
import { GgufFile } from '../../src/io/gguf/index.ts';
import { mogeConfig } from '../../src/model/moge/config.ts';
import { ggufBytes, mixedGgufSpec, umt5GgufSpec } from '../io/gguf/gguf-bytes.ts';
import { openUmt5Weights, readEmbeddingRow } from '../../src/model/umt5/weights.ts';
import { buildUmt5Graph } from '../../src/model/umt5/graph.ts';
import { InputError } from '../../src/runtime/errors.ts';
import { floatTensor, op, pickle, torchZip } from '../io/pytorch/pickle-bytes.ts';
import { mutateBytes, mutateJsonText } from './mutate.ts';
import type { Rng } from './rng.ts';

export interface FuzzContext {
  /** The demo's tiny model folder (transformer/, vae/, text_encoder/, tokenizer/, image_encoder/, image_processor/, scheduler/, lora/). */
  model: string;
  /** The shared example meta.json. */
  metaText: string;
  tokenizerText: string;
}

/** Builds the mutated input (untimed) and returns the load the watchdog times. */
export type Target = (rng: Rng, dir: string, ctx: FuzzContext) => () => Promise<unknown>;

function safetensorsSeed(): { bytes: Uint8Array; headerEnd: number } {
  const specs = {
    'a.weight': { dtype: 'F32' as const, shape: [3, 2] },
    'b.bias': { dtype: 'BF16' as const, shape: [5] },
    c: { dtype: 'I64' as const, shape: [] },
    empty: { dtype: 'F16' as const, shape: [0, 4] },
  };
  const layout = buildSafetensorsHeader(specs, { format: 'pt' });
  const bytes = new Uint8Array(layout.fileSize);
  bytes.set(layout.prefix);
  for (let i = layout.prefix.length; i < bytes.length; i++) bytes[i] = (i * 37) & 0xff;
  return { bytes, headerEnd: layout.prefix.length };
}

const ST = safetensorsSeed();
const PNG = encodePng(7, 5, 3, Uint8Array.from({ length: 7 * 5 * 3 }, (_, i) => (i * 29) & 0xff));
const NPY = encodeNpy({ dtype: 'f4', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
const GGUF = ggufBytes(mixedGgufSpec());
const UMT5_GGUF = ggufBytes(umt5GgufSpec());

/** The golden tiny models whose configs seed the MoGe-2 and original-release targets. */
const MOGE_DIR = 'test/golden/moge';
const ORIGINAL_DIR = 'test/golden/layouts/original';

const PT = torchZip(pickle(op.proto(), op.emptyDict, op.str('w'), floatTensor('0', 6, 0, [3, 2], [2, 1]), op.setitem, op.stop), { 0: new Uint8Array(24).fill(0x3f) });

async function readAllAndClose(src: { tensors: ReadonlyMap<string, unknown>; read(name: string): Promise<Uint8Array>; close(): Promise<void> }): Promise<void> {
  try {
    for (const name of src.tensors.keys()) await src.read(name);
  } finally {
    await src.close();
  }
}

/**
 * A copy of the demo model folder made of links, with `replace` (relative path -> content, or
 * null to delete) applied: untouched subfolders are linked whole, touched ones file by file.
 */
function linkedModel(ctx: FuzzContext, dir: string, replace: Record<string, Uint8Array | string | null>): string {
  const root = path.join(dir, 'model');
  fs.mkdirSync(root);
  const touched = new Set(Object.keys(replace).map((rel) => rel.split('/')[0]!));
  for (const top of fs.readdirSync(ctx.model)) {
    const src = path.join(ctx.model, top);
    if (!fs.statSync(src).isDirectory() && top in replace) continue;
    if (!touched.has(top) || !fs.statSync(src).isDirectory()) {
      fs.symlinkSync(src, path.join(root, top));
      continue;
    }
    fs.mkdirSync(path.join(root, top));
    for (const f of fs.readdirSync(src)) if (!(`${top}/${f}` in replace)) fs.symlinkSync(path.join(src, f), path.join(root, top, f));
  }
  for (const [rel, content] of Object.entries(replace)) if (content !== null) fs.writeFileSync(path.join(root, rel), content);
  return root;
}

const modelFile = (ctx: FuzzContext, rel: string) => fs.readFileSync(path.join(ctx.model, rel));
const mutatedJson = (ctx: FuzzContext, rel: string, rng: Rng) => mutateJsonText(modelFile(ctx, rel).toString('utf8'), rng);

/** A safetensors file of the demo with its header mutated (header-focused byte or JSON mutation). */
function mutatedSafetensors(bytes: Uint8Array, rng: Rng): Uint8Array {
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (rng.next() < 0.5) return mutateBytes(bytes, rng, { start: 0, end: 8 + headerLen });
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLen));
  const text = new TextEncoder().encode(mutateJsonText(header.trimEnd(), rng));
  const out = new Uint8Array(8 + text.length + bytes.length - 8 - headerLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(bytes.subarray(8 + headerLen), 8 + text.length);
  return out;
}

export const TARGETS: Record<string, Target> = {
  safetensors(rng, dir) {
    const f = path.join(dir, 'x.safetensors');
    fs.writeFileSync(f, rng.next() < 0.5 ? mutateBytes(ST.bytes, rng, { start: 0, end: ST.headerEnd }) : mutatedSafetensors(ST.bytes, rng));
    return async () => {
      await readAllAndClose(await SafetensorsFile.open(f));
      await inspectCheckpoint(f);
    };
  },
  index(rng, dir) {
    fs.writeFileSync(path.join(dir, 'x-00001.safetensors'), ST.bytes);
    const weightMap = Object.fromEntries(['a.weight', 'b.bias', 'c', 'empty'].map((k) => [k, 'x-00001.safetensors']));
    const f = path.join(dir, 'x.safetensors.index.json');
    fs.writeFileSync(f, mutateJsonText(JSON.stringify({ metadata: { total_size: 100 }, weight_map: weightMap }), rng));
    return async () => readAllAndClose(await Checkpoint.open(f));
  },
  png(rng) {
    const bytes = mutateBytes(PNG, rng, { start: 0, end: 64 });
    return async () => void decodePng(bytes, 'mask.png');
  },
  npy(rng) {
    const bytes = mutateBytes(NPY, rng, { start: 0, end: 128 });
    return async () => void parseNpy(bytes, 'x.npy');
  },
  pt(rng, dir) {
    const f = path.join(dir, 'x.pt');
    fs.writeFileSync(f, mutateBytes(PT, rng));
    return async () => readAllAndClose(await PytorchCheckpoint.open(f));
  },
  gguf(rng, dir) {
    const f = path.join(dir, 'x.gguf');
    fs.writeFileSync(f, mutateBytes(GGUF, rng, { start: 0, end: 512 }));
    return async () => {
      await readAllAndClose(await GgufFile.open(f));
      await inspectCheckpoint(f);
    };
  },
  'gguf-umt5'(rng, dir) {
    // A GGUF text encoder as forward umt5 reads it, without the GPU: names, config from the
    // shapes, every graph weight streamed (blocks kept as stored or dequantized), table rows.
    const f = path.join(dir, 'umt5.gguf');
    fs.writeFileSync(f, mutateBytes(UMT5_GGUF, rng, { start: 0, end: 1024 }));
    return async () => {
      const w = await openUmt5Weights({ weights: f });
      try {
        const graph = buildUmt5Graph(w.config, 4, 'f32', w.store.quantized);
        for (const v of graph.weights.values()) await w.store.stream(v.name!, v.shape, v.dtype, () => {});
        await readEmbeddingRow(w, 0);
        await readEmbeddingRow(w, w.config.vocabSize - 1);
      } finally {
        await w.checkpoint.close();
      }
    };
  },
  'moge-config'(rng, dir) {
    const f = path.join(dir, 'config.json');
    fs.writeFileSync(f, mutateJsonText(fs.readFileSync(path.join(MOGE_DIR, 'config.json'), 'utf8'), rng));
    return async () => {
      const { json, error } = readJsonFile(f);
      if (!json) throw new InputError(`${f}: ${error}`); // what MogeModel.openSafetensors does with it
      const weights = await SafetensorsFile.open(path.join(MOGE_DIR, 'weights.safetensors'));
      try {
        mogeConfig(json, weights.tensors, f);
      } finally {
        await weights.close();
      }
    };
  },
  'original-config'(rng, dir) {
    // The original Wan2.1 release folder (its own config.json spelling), config mutated.
    const root = path.join(dir, 'original');
    fs.mkdirSync(root);
    for (const name of fs.readdirSync(ORIGINAL_DIR)) if (name !== 'config.json') fs.symlinkSync(path.resolve(ORIGINAL_DIR, name), path.join(root, name));
    fs.writeFileSync(path.join(root, 'config.json'), mutateJsonText(fs.readFileSync(path.join(ORIGINAL_DIR, 'config.json'), 'utf8'), rng));
    return async () => (await openWanCheckpoint(root)).checkpoint.close();
  },
  meta(rng, dir, ctx) {
    const f = path.join(dir, 'meta.json');
    fs.writeFileSync(f, mutateJsonText(ctx.metaText, rng));
    return async () => void loadEgoxMeta(f, { requiredEgoPoses: 1 });
  },
  tokenizer(rng, _dir, ctx) {
    const text = mutateJsonText(ctx.tokenizerText, rng);
    return async () => {
      const tok = UnigramTokenizer.fromJsonText(text, 'tokenizer.json');
      tok.encode('A person  walks\u00a0across a ROOM, picks up a cup; the camera follows.', { maxLength: 64 });
    };
  },
  'transformer-config'(rng, dir, ctx) {
    const root = linkedModel(ctx, dir, { 'transformer/config.json': mutatedJson(ctx, 'transformer/config.json', rng) });
    return async () => (await openWanCheckpoint(path.join(root, 'transformer'))).checkpoint.close();
  },
  'vae-config'(rng, dir, ctx) {
    const root = linkedModel(ctx, dir, { 'vae/config.json': mutatedJson(ctx, 'vae/config.json', rng) });
    return async () => {
      const v = await openVaeCheckpoint(path.join(root, 'vae'));
      await (v.source as unknown as { close(): Promise<void> }).close();
      encoderLayers(v.config);
      decoderBlocks(v.config);
    };
  },
  'encoder-configs'(rng, dir, ctx) {
    const which = rng.pick(['text_encoder/config.json', 'image_encoder/config.json', 'image_processor/preprocessor_config.json'] as const);
    const f = path.join(dir, 'config.json');
    fs.writeFileSync(f, mutatedJson(ctx, which, rng));
    return async () => {
      const { json, error } = readJsonFile(f);
      if (!json) throw new InputError(`${f}: ${error}`); // what each encoder's opener does with it
      if (which.startsWith('text')) umt5ConfigFromJson(json, f);
      else if (which.startsWith('image_encoder')) clipConfigFromJson(json, f);
      else preprocessConfigFromJson(json, f);
    };
  },
  scheduler(rng, dir, ctx) {
    const root = linkedModel(ctx, dir, { 'scheduler/scheduler_config.json': mutatedJson(ctx, 'scheduler/scheduler_config.json', rng) });
    return async () => void openModelFolder(root);
  },
  lora(rng, dir, ctx) {
    const f = path.join(dir, 'lora.safetensors');
    fs.writeFileSync(f, mutatedSafetensors(modelFile(ctx, 'lora/pytorch_lora_weights.safetensors'), rng));
    return async () => (await WanModel.open(path.join(ctx.model, 'transformer'), { lora: { file: f, strength: 1 } })).close();
  },
  'model-folder'(rng, dir, ctx) {
    const files = fs.readdirSync(ctx.model, { recursive: true }).map(String).filter((r) => fs.statSync(path.join(ctx.model, r)).isFile());
    const rel = rng.pick(files);
    const roll = rng.int(4);
    const content = roll === 0 ? null : roll === 1 ? '' : rel.endsWith('.json') ? mutatedJson(ctx, rel, rng) : mutatedSafetensors(modelFile(ctx, rel), rng);
    const root = linkedModel(ctx, dir, { [rel]: content });
    return async () => {
      const folder = openModelFolder(root);
      await (await openWanCheckpoint(folder.transformer)).checkpoint.close();
      const v = await openVaeCheckpoint(folder.vae);
      await (v.source as unknown as { close(): Promise<void> }).close();
    };
  },
};

export const TARGET_NAMES = Object.keys(TARGETS);
