/**
 * A restricted pickle machine: it decodes plain data (None, bools, ints, floats, str, bytes,
 * lists, tuples, dicts, sets) and hands everything that could run code — globals, REDUCE,
 * BUILD, persistent ids — to a policy, which returns inert values or refuses. It never imports
 * or calls anything, loops instead of recursing, and checks every length against the bytes left.
 *
 * Values: None -> null, int -> number (bigint past 2^53), tuple/list/set -> array,
 * dict -> Map, bytes -> Uint8Array.
 */

export class PickleError extends Error {}

export interface PicklePolicy {
  /** GLOBAL / STACK_GLOBAL `module.name`: an inert stand-in, or throw PickleError to refuse. */
  global(module: string, name: string): unknown;
  /** REDUCE: apply `callable` (a value global() returned) to `args`. */
  reduce(callable: unknown, args: unknown[]): unknown;
  /** BUILD: set `state` on `target` (or refuse). */
  build(target: unknown, state: unknown): void;
  /** BINPERSID: the object a persistent id stands for. */
  persistentLoad(pid: unknown): unknown;
}

/** Marks (open containers) allowed at once: a real state dict nests a handful deep. */
export const MAX_MARK_DEPTH = 1000;

/** Longest LONG1/LONG4 integer accepted (bytes); sizes and seeds fit in 8. */
const MAX_LONG_BYTES = 64;

const latin1Decoder = new TextDecoder('latin1');

export interface PickleResult {
  value: unknown;
  /** Offset just past the STOP opcode. */
  end: number;
}

/** Runs the pickle starting at `start` in `bytes` up to its STOP opcode. */
export function unpickle(bytes: Uint8Array, policy: PicklePolicy, start = 0): PickleResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;
  let opAt = start;

  const fail = (problem: string): never => {
    throw new PickleError(`pickle byte ${opAt}: ${problem}`);
  };
  const need = (n: number | bigint, what: string): number => {
    if (typeof n === 'bigint') n = n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
    if (n < 0 || pos + n > bytes.length) {
      fail(`${what} of ${n} bytes runs past the end of the pickle (${bytes.length - pos} bytes left); truncated or corrupt`);
    }
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = (): number => view.getUint8(need(1, 'argument'));
  const u16 = (): number => view.getUint16(need(2, 'argument'), true);
  const u32 = (): number => view.getUint32(need(4, 'argument'), true);
  const u64 = (): bigint => view.getBigUint64(need(8, 'argument'), true);
  const slice = (n: number | bigint, what: string): Uint8Array => {
    const at = need(n, what);
    return bytes.subarray(at, pos);
  };
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const text = (n: number | bigint): string => {
    try {
      return utf8.decode(slice(n, 'string'));
    } catch (e) {
      if (e instanceof PickleError) throw e;
      return fail('string is not valid UTF-8');
    }
  };
  const long = (n: number): number | bigint =>
    n > MAX_LONG_BYTES ? fail(`integer of ${n} bytes is larger than any size or value a checkpoint holds`) : longLE(slice(n, 'LONG'));
  const latin1 = (b: Uint8Array): string => latin1Decoder.decode(b);
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) fail('text argument has no end of line; truncated');
    const s = latin1(bytes.subarray(pos, nl));
    pos = nl + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK to close');
    return stack.splice(m!);
  };
  const put = (i: number): void => void memo.set(i, top());
  const get = (i: number): void => {
    if (!memo.has(i)) fail(`memo entry ${i} is read before it is written`);
    stack.push(memo.get(i));
  };
  const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : fail('APPEND to something that is not a list'));
  const asDict = (v: unknown): Map<unknown, unknown> => (v instanceof Map ? v : fail('SETITEM on something that is not a dict'));
  const setItems = (d: Map<unknown, unknown>, kv: unknown[]): void => {
    if (kv.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) d.set(kv[i], kv[i + 1]);
  };
  const checkName = (s: unknown): string =>
    typeof s === 'string' && /^[A-Za-z_][\w.]*$/.test(s) ? s : fail(`global name ${JSON.stringify(String(s)).slice(0, 80)} is not an identifier`);

  for (;;) {
    opAt = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v > 5) fail(`pickle protocol ${v} is newer than 5`);
        break;
      }
      case 0x95: u64(); break; // FRAME: a hint only
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) fail(`STOP with ${stack.length} values and ${marks.length} open marks (expected exactly one value)`);
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        if (marks.length >= MAX_MARK_DEPTH) fail(`more than ${MAX_MARK_DEPTH} nested marks; not a checkpoint`);
        marks.push(stack.length);
        break;
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(view.getInt32(need(4, 'BININT'), true)); break;
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(long(u8())); break; // LONG1
      case 0x8b: stack.push(long(view.getInt32(need(4, 'LONG4'), true))); break; // LONG4
      case 0x47: stack.push(view.getFloat64(need(8, 'BINFLOAT'), false)); break;
      case 0x49: { // INT (text; I01/I00 are bools)
        const s = line();
        if (s === '01' || s === '00') stack.push(s === '01');
        else if (/^-?\d{1,15}$/.test(s)) stack.push(Number(s));
        else fail(`INT argument '${s.slice(0, 40)}' is not a small integer`);
        break;
      }
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(u64())); break; // BINUNICODE8
      case 0x54: stack.push(latin1(slice(u32(), 'BINSTRING'))); break;
      case 0x55: stack.push(latin1(slice(u8(), 'SHORT_BINSTRING'))); break;
      case 0x42: stack.push(slice(u32(), 'BINBYTES').slice()); break;
      case 0x43: stack.push(slice(u8(), 'SHORT_BINBYTES').slice()); break;
      case 0x8e: stack.push(slice(u64(), 'BINBYTES8').slice()); break;
      case 0x96: stack.push(slice(u64(), 'BYTEARRAY8').slice()); break;
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const v = pop(); asList(top()).push(v); break; } // APPEND
      case 0x65: { const vs = popMark(); appendAll(asList(top()), vs); break; } // APPENDS
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x64: { const d = new Map(); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x73: { const v = pop(); const k = pop(); asDict(top()).set(k, v); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(asDict(top()), kv); break; } // SETITEMS
      case 0x8f: stack.push([]); break; // EMPTY_SET (as a list)
      case 0x90: { const vs = popMark(); appendAll(asList(top()), vs); break; } // ADDITEMS
      case 0x91: stack.push(popMark()); break; // FROZENSET
      case 0x71: put(u8()); break; // BINPUT
      case 0x72: put(u32()); break; // LONG_BINPUT
      case 0x94: put(memo.size); break; // MEMOIZE
      case 0x70: put(parseIndex(line(), fail)); break; // PUT
      case 0x68: get(u8()); break; // BINGET
      case 0x6a: get(u32()); break; // LONG_BINGET
      case 0x67: get(parseIndex(line(), fail)); break; // GET
      case 0x63: { // GLOBAL
        const module = checkName(line());
        stack.push(policy.global(module, checkName(line())));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = checkName(pop());
        stack.push(policy.global(checkName(pop()), name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        if (!Array.isArray(args)) fail('REDUCE arguments are not a tuple');
        stack.push(policy.reduce(pop(), args as unknown[]));
        break;
      }
      case 0x62: { const state = pop(); policy.build(top(), state); break; } // BUILD
      case 0x51: stack.push(policy.persistentLoad(pop())); break; // BINPERSID
      case 0x50: stack.push(policy.persistentLoad(line())); break; // PERSID
      default:
        fail(`opcode 0x${op.toString(16).padStart(2, '0')}${op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : ''} is not allowed in a checkpoint (it builds arbitrary objects or is unknown)`);
    }
  }
}

function appendAll(list: unknown[], items: unknown[]): void {
  for (const v of items) list.push(v);
}

/** A little-endian two's-complement integer (LONG1/LONG4): a number when safe, else a bigint. */
function longLE(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseIndex(s: string, fail: (p: string) => never): number {
  return /^\d{1,9}$/.test(s) ? Number(s) : fail(`memo index '${s.slice(0, 40)}' is not a number`);
}
