/**
 * Writes a large safetensors file by streaming, for memory checks of the lazy reader:
 *   npx tsx test/tools/make-big-safetensors.ts OUT.safetensors [GiB=2]
 * Four tensors take 1/2 (F32, the largest), 1/4 (BF16), 1/8 (F32) and 1/8 (BF16) of the size.
 * Element i of every tensor holds (i % 1024) / 1024 (BF16: those float32 bits truncated to the
 * high half), so a reader can spot-check any range. Never holds more than one 16 MiB chunk.
 * Not run by the test suite.
 */
import { promises as fsp } from 'node:fs';
import { buildSafetensorsHeader, tempPathFor, type TensorSpec } from '../../src/io/safetensors-writer.ts';

const CHUNK_BYTES = 16 * 1024 * 1024;
const COLS = 4096;
const PERIOD = 1024; // CHUNK_BYTES is a whole number of periods for both dtypes

function usage(msg: string): never {
  console.error(`${msg}\nusage: npx tsx test/tools/make-big-safetensors.ts OUT.safetensors [GiB=2]`);
  process.exit(2);
}

/** One chunk of the repeating pattern, as bytes of the given dtype. */
function patternChunk(dtype: 'F32' | 'BF16'): Uint8Array {
  const f32 = new Float32Array(PERIOD).map((_, i) => i / PERIOD);
  const period = dtype === 'F32' ? new Uint8Array(f32.buffer)
    : new Uint8Array(new Uint16Array(new Uint32Array(f32.buffer).map((b) => b >>> 16)).buffer);
  const out = new Uint8Array(CHUNK_BYTES);
  for (let at = 0; at < out.length; at += period.length) out.set(period, at);
  return out;
}

async function main(): Promise<void> {
  const [out, gibArg = '2'] = process.argv.slice(2);
  if (!out) usage('missing OUT path');
  const gib = Number(gibArg);
  if (!(gib > 0)) usage(`GiB must be a positive number, got '${gibArg}'`);
  const total = gib * 1024 ** 3;

  const specs: Record<string, TensorSpec> = {};
  const parts: Array<[string, 'F32' | 'BF16', number]> = [
    ['blocks.0.big.weight', 'F32', 1 / 2], ['blocks.1.mid.weight', 'BF16', 1 / 4],
    ['blocks.2.small.weight', 'F32', 1 / 8], ['blocks.3.small.weight', 'BF16', 1 / 8],
  ];
  for (const [name, dtype, frac] of parts) {
    const rows = Math.max(1, Math.round((total * frac) / (dtype === 'F32' ? 4 : 2) / COLS));
    specs[name] = { dtype, shape: [rows, COLS] };
  }
  const layout = buildSafetensorsHeader(specs, { generator: 'make-big-safetensors', pattern: '(i % 1024) / 1024' });
  const chunks = { F32: patternChunk('F32'), BF16: patternChunk('BF16') };

  const tmp = tempPathFor(out);
  const fh = await fsp.open(tmp, 'w');
  const started = Date.now();
  try {
    let pos = 0;
    const put = async (bytes: Uint8Array): Promise<void> => {
      let done = 0;
      while (done < bytes.length) {
        done += (await fh.write(bytes, done, bytes.length - done, pos + done)).bytesWritten;
      }
      pos += bytes.length;
    };
    await put(layout.prefix);
    for (const name of layout.order) {
      const chunk = chunks[specs[name]!.dtype as 'F32' | 'BF16'];
      const n = layout.byteLengths.get(name)!;
      // Chunks start on pattern boundaries, so a prefix of the chunk continues the pattern.
      for (let at = 0; at < n; at += CHUNK_BYTES) await put(chunk.subarray(0, Math.min(CHUNK_BYTES, n - at)));
    }
    await fh.close();
    await fsp.rename(tmp, out);
  } catch (e) {
    await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  const secs = (Date.now() - started) / 1000;
  const rssMiB = process.memoryUsage().rss / 1024 ** 2;
  console.log(`${out}: ${(layout.fileSize / 1024 ** 3).toFixed(2)} GiB, ${layout.order.length} tensors `
    + `(${layout.order.map((n) => `${n} ${specs[n]!.dtype} [${specs[n]!.shape.join(', ')}]`).join('; ')}) `
    + `in ${secs.toFixed(1)} s, RSS ${rssMiB.toFixed(0)} MiB`);
}

await main();
