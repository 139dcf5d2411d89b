// Hostile and broken checkpoints, built here opcode by opcode: each is refused with one
// FileFormatError line naming the file, and nothing in them runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PytorchCheckpoint } from '../../../src/io/pytorch/index.ts';
import { FileFormatError } from '../../../src/io/format-error.ts';
import { floatTensor, op, pickle, torchZip, tupleOf } from './pickle-bytes.ts';

let dir = '';
let marker = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-pt-'));
  marker = path.join(dir, 'pwned');
});
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

async function refused(name: string, bytes: Uint8Array, why: RegExp): Promise<string> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  const err = await PytorchCheckpoint.open(file).then(
    async (c) => { await c.close(); throw new Error(`${name} was accepted`); },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FileFormatError);
  const msg = (err as Error).message;
  expect(msg.split('\n')).toHaveLength(1);
  expect(msg).toContain(file);
  expect(msg).toMatch(why);
  expect(fs.existsSync(marker)).toBe(false);
  return msg;
}

const callWith = (module: string, name: string, arg: string): Uint8Array =>
  pickle(op.proto(), op.global(module, name), tupleOf(op.str(arg)), op.reduce, op.stop);

describe('refused globals and callables', () => {
  it('GLOBAL os.system', async () => {
    await refused('os.pt', torchZip(callWith('os', 'system', `touch ${marker}`)), /refused global 'os\.system'/);
  });
  it('builtins.eval, posix.system by STACK_GLOBAL, in the zip and the legacy layout', async () => {
    await refused('eval.pt', torchZip(callWith('builtins', 'eval', `open('${marker}','w')`)), /refused global 'builtins\.eval'/);
    const stackGlobal = pickle(op.proto(4), op.str('posix'), op.str('system'), op.stackGlobal, tupleOf(op.str(`touch ${marker}`)), op.reduce, op.stop);
    await refused('posix.pt', torchZip(stackGlobal), /refused global 'posix\.system'/);
    const legacy = pickle(
      op.proto(), op.long(0x1950a86a20f9469cfc6cn), op.stop, op.proto(), op.int4(1001), op.stop,
      op.proto(), op.emptyDict, op.str('little_endian'), 0x88, op.setitem, op.stop,
      callWith('subprocess', 'call', `touch ${marker}`));
    await refused('legacy.pt', legacy, /refused global 'subprocess\.call'/);
  });
  it('REDUCE on a global that is allowed but not callable, and objects built by INST/NEWOBJ', async () => {
    await refused('reduce.pt', torchZip(pickle(op.proto(), op.global('torch', 'FloatStorage'), op.emptyTuple, op.reduce, op.stop)),
      /REDUCE on torch\.FloatStorage, which is not an allowed callable/);
    await refused('inst.pt', torchZip(pickle(op.proto(), op.mark, 0x69, Array.from(new TextEncoder().encode('os\nsystem\n')), op.stop)),
      /opcode 0x69 \('i'\) is not allowed/);
    await refused('newobj.pt', torchZip(pickle(op.proto(), op.global('collections', 'OrderedDict'), op.emptyTuple, 0x81, op.stop)),
      /opcode 0x81 is not allowed/);
  });
});

describe('sizes from the file are checked before use', () => {
  it('a string longer than the pickle', async () => {
    await refused('huge-str.pt', torchZip(pickle(op.proto(4), op.hugeStr(1n << 62n), op.stop)), /runs past the end of the pickle/);
  });
  it('a storage that claims more elements than its entry holds', async () => {
    const pkl = pickle(op.proto(), op.emptyDict, op.str('w'), floatTensor('0', 2 ** 30, 0, [2 ** 15, 2 ** 15], [2 ** 15, 1]), op.setitem, op.stop);
    await refused('huge-storage.pt', torchZip(pkl, { 0: new Uint8Array(16) }), /storage '0' holds 16 bytes, less than its 1073741824 F32 elements need/);
  });
  it('a view that reaches past its storage names the tensor', async () => {
    const pkl = pickle(op.proto(), op.emptyDict, op.str('enc.w'), floatTensor('0', 4, 1, [2, 2], [2, 1]), op.setitem, op.stop);
    await refused('bad-view.pt', torchZip(pkl, { 0: new Uint8Array(16) }), /tensor 'enc\.w': view .* reaches element 4 of storage '0', which has 4/);
  });
  it('a size with more elements than any file, and a stride-0 view expanded far past the file', async () => {
    const huge = pickle(op.proto(), op.emptyDict, op.str('w'), floatTensor('0', 4, 0, [2 ** 30, 2 ** 30], [0, 0]), op.setitem, op.stop);
    await refused('huge-shape.pt', torchZip(huge, { 0: new Uint8Array(16) }), /tensor 'w': size \[1073741824, 1073741824\] has more elements than any file holds/);
    const wide = pickle(op.proto(), op.emptyDict, op.str('w'), floatTensor('0', 1, 0, [2 ** 30], [0]), op.setitem, op.stop);
    await refused('expanded.pt', torchZip(wide, { 0: new Uint8Array(4) }), /more than the whole file .* limit for expanded tensors/);
  });
  it('a legacy storage whose element count is beyond the file', async () => {
    const count = [0, 0, 0, 0, 0, 0, 0, 0x10]; // 2^60 little-endian
    const legacy = pickle(
      op.proto(), op.long(0x1950a86a20f9469cfc6cn), op.stop, op.proto(), op.int4(1001), op.stop,
      op.proto(), op.emptyDict, op.str('little_endian'), 0x88, op.setitem, op.stop,
      op.proto(), op.emptyDict, op.str('w'), floatTensor('k', 4, 0, [4], [1]), op.setitem, op.stop,
      op.proto(), tupleOf(op.str('k')), op.stop, count, Array(16).fill(0));
    await refused('legacy-count.pt', legacy, /storage 'k' records 1152921504606846976 elements but the pickle says 4/);
  });
  it('a storage the archive does not have', async () => {
    const pkl = pickle(op.proto(), op.emptyDict, op.str('w'), floatTensor('7', 4, 0, [4], [1]), op.setitem, op.stop);
    await refused('no-storage.pt', torchZip(pkl), /storage '7' has no entry 'archive\/data\/7'/);
  });
  it('containers nested 100k deep, and 100k open marks', async () => {
    const n = 100_000;
    const deep = pickle(op.proto(), Array(n).fill(op.emptyList).flat(), Array(n - 1).fill(op.append).flat(), op.stop);
    await refused('deep.pt', torchZip(deep), /nest deeper than 200 levels/);
    await refused('marks.pt', torchZip(pickle(op.proto(), Array(n).fill(op.mark).flat(), op.stop)), /more than 1000 nested marks/);
  });
  it('a self-containing list', async () => {
    // l = []; l.append(l)
    await refused('cycle.pt', torchZip(pickle(op.proto(), op.emptyList, 0x71, 0, 0x68, 0, op.append, op.stop)), /nest deeper than 200 levels/);
  });
});

describe('truncated and damaged archives', () => {
  const golden = fs.readFileSync('test/golden/io/torch-zip.pt');
  it.each([10, 200, 1500, golden.length - 30, golden.length - 1])('torch-zip.pt cut to %i bytes', async (n) => {
    await refused(`cut-${n}.pt`, golden.subarray(0, n), /(truncated|not a PyTorch checkpoint)/);
  });
  it('the legacy file cut inside its storages', async () => {
    const legacy = fs.readFileSync('test/golden/io/torch-legacy.pt');
    await refused('legacy-cut.pt', legacy.subarray(0, legacy.length - 100), /truncated/);
  });
  it('a pickle that never stops', async () => {
    await refused('nostop.pt', torchZip(pickle(op.proto(), op.none)), /runs past the end of the pickle/);
  });
  it('not a checkpoint at all', async () => {
    await refused('text.pt', new TextEncoder().encode('hello, world\n'), /neither a zip archive nor a pickle stream/);
  });
});
