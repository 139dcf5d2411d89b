/**
 * Memory check for the lazy safetensors path: inspects a (large) file and streams its largest
 * tensor into a GPU buffer, printing the process's resident-memory growth.
 *   npx tsx test/tools/make-big-safetensors.ts /tmp/big.safetensors 2
 *   npx tsx test/tools/upload-big.ts /tmp/big.safetensors
 * On lavapipe the "GPU" buffer itself lives in host RAM, so the growth attributable to the
 * upload path is RSS growth minus the tensor's own size; both are printed.
 */
import { inspectCheckpoint } from '../../src/io/inspect.ts';
import { Checkpoint } from '../../src/io/checkpoint.ts';
import { openNodeDevice } from '../../src/runtime/node.ts';

const path = process.argv[2];
if (!path) {
  console.error('usage: npx tsx test/tools/upload-big.ts FILE.safetensors');
  process.exit(2);
}
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const dev = await openNodeDevice();
const rss0 = process.memoryUsage().rss;
const report = await inspectCheckpoint(path);
const largest = report.tensors.reduce((a, b) => (b.bytes > a.bytes ? b : a));
const ckpt = await Checkpoint.open(path);
const dtype = largest.dtype === 'BF16' ? 'bf16' : largest.dtype === 'F16' ? 'f16' : 'f32';
const t = dev.empty(largest.shape, dtype);
let peak = process.memoryUsage().rss;
const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const t0 = performance.now();
await dev.writeStream(t, ckpt.chunks(largest.name, 16 * 2 ** 20));
await dev.sync();
const secs = (performance.now() - t0) / 1000;
clearInterval(timer);
peak = Math.max(peak, process.memoryUsage().rss);
// Spot-check: element i holds (i % 1024) / 1024 (see make-big-safetensors.ts).
const probe = await dev.read(t.slice(t.shape[0]! - 1, t.shape[0]!));
const cols = probe.length;
const base = (t.numel - cols) % 1024;
let bad = 0;
for (let j = 0; j < cols; j++) if (Math.abs(probe[j]! - ((base + j) % 1024) / 1024) > 1e-2) bad++;
console.log(`file ${mib(report.totals.bytes)}, largest tensor ${largest.name} ${largest.dtype} [${largest.shape}] = ${mib(largest.bytes)}`);
console.log(`upload ${secs.toFixed(1)} s (${(largest.bytes / 2 ** 20 / secs).toFixed(0)} MiB/s); last-row check: ${bad} bad of ${cols}`);
console.log(`RSS before ${mib(rss0)}, peak ${mib(peak)}: growth ${mib(peak - rss0)}; minus the device buffer (host RAM on lavapipe): ${mib(peak - rss0 - t.byteLength)}`);
await ckpt.close();
dev.destroy();
process.exit(bad ? 1 : 0);
