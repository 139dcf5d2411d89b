// Mutations of a valid seed: byte-level (flips, interesting values, cuts, repeats) and, for JSON
// text, structural (a value swapped for null, a huge or negative number, a deep nest, a long or
// control-character string, a key dropped). The mix finds both parser and validator holes.
import type { Rng } from './rng.ts';

const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x22, 0x5b, 0x7b, 0x5c, 0x0d, 0x1b, 0x30, 0x39];
const INTERESTING_VALUES: unknown[] = [
  null, 0, -1, 1e300, -1e300, 2 ** 31, 2 ** 53, 64e9, 0.5, 1e-320, '', 'x'.repeat(3000), '\r\x1b[2J', true, [], {}, [[[[]]]],
  '[1', 'NaN', -0, 3.7, 'F8_E4M3', 'I64', 'BOOL',
];

/** Marks a value to be replaced by an array nested thousands deep once the document is text. */
const DEEP = '\u0000deep\u0000';

/** A mutated copy of `seed` (bytes). */
export function mutateBytes(seed: Uint8Array, rng: Rng, focus?: { start: number; end: number }): Uint8Array {
  let b: Uint8Array = seed.slice();
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    const lo = focus && rng.next() < 0.8 ? focus.start : 0;
    const hi = focus && rng.next() < 0.8 ? Math.min(focus.end, b.length) : b.length;
    const at = lo + rng.int(Math.max(1, hi - lo));
    switch (rng.int(7)) {
      case 0: if (b.length) b[at % b.length] ^= 1 << rng.int(8); break;
      case 1: if (b.length) b[at % b.length] = rng.pick(INTERESTING_BYTES); break;
      case 2: b = b.slice(0, at); break; // truncate
      case 3: { // delete a range
        const n = 1 + rng.int(64);
        b = concat(b.subarray(0, at), b.subarray(at + n));
        break;
      }
      case 4: { // repeat a range
        const n = 1 + rng.int(32);
        const piece = b.slice(at, at + n);
        const times = 1 + rng.int(rng.next() < 0.1 ? 20_000 : 8);
        const rep = new Uint8Array(piece.length * times);
        for (let i = 0; i < times; i++) rep.set(piece, i * piece.length);
        b = concat(b.subarray(0, at), rep, b.subarray(at));
        break;
      }
      case 5: { // overwrite with a little-endian integer (lengths, offsets)
        const v = rng.pick([0, 1, 0xffffffff, 0x7fffffff, 2 ** 20, b.length, b.length + 1]);
        for (let i = 0; i < 4 && at + i < b.length; i++) b[at + i] = (v >>> (8 * i)) & 0xff;
        break;
      }
      default: // insert random bytes
        b = concat(b.subarray(0, at), Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256)), b.subarray(at));
    }
  }
  return b;
}

/** A structurally mutated JSON document (falls back to byte mutation for text that is not JSON). */
export function mutateJsonText(text: string, rng: Rng): string {
  if (rng.next() < 0.3) return new TextDecoder().decode(mutateBytes(new TextEncoder().encode(text), rng));
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return new TextDecoder().decode(mutateBytes(new TextEncoder().encode(text), rng));
  }
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) root = mutateValue(root, rng, 0);
  const out = JSON.stringify(root);
  if (out.length > 8 * 2 ** 20) return text.slice(0, rng.int(text.length)); // keep cases small: a cut instead
  // Nesting far past any bound is spliced in as text where a value was marked: JSON.stringify
  // of a value that deep would itself overflow the stack.
  let deep = 0; // a long array of marks gets a few deep nests, the rest plain values
  return out.replaceAll(JSON.stringify(DEEP), () => {
    if (++deep > 3) return '1';
    const n = rng.pick([100, 20_000, 50_000]);
    return `${'['.repeat(n)}1${']'.repeat(n)}`;
  });
}

function mutateValue(v: unknown, rng: Rng, depth: number): unknown {
  const containers = Array.isArray(v) ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0;
  if (containers > 0 && depth < 12 && rng.next() < 0.75) {
    if (Array.isArray(v)) {
      const i = rng.int(v.length);
      const copy = [...v];
      if (rng.next() < 0.1) copy.splice(i, 1);
      else copy[i] = mutateValue(v[i], rng, depth + 1);
      return copy;
    }
    const o = { ...(v as Record<string, unknown>) };
    const k = rng.pick(Object.keys(o));
    if (rng.next() < 0.1) delete o[k];
    else o[k] = mutateValue(o[k], rng, depth + 1);
    return o;
  }
  if (rng.next() < 0.1) return DEEP;
  switch (rng.int(4)) {
    case 0: return rng.pick(INTERESTING_VALUES);
    case 1: return typeof v === 'number' ? v * rng.pick([-1, 2, 1000, 1e9, 0.5]) : rng.pick(INTERESTING_VALUES);
    case 2: { // nest it
      let n: unknown = v;
      for (let i = 0, d = 1 + rng.int(40); i < d; i++) n = [n];
      return n;
    }
    default: { // a long array of a small value
      const item = Array.isArray(v) && typeof v[0] !== 'object' ? v[0] : 1;
      return Array(rng.pick([0, 1, 1000, 100_000])).fill(item);
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
