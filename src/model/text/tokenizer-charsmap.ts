/**
 * SentencePiece's precompiled_charsmap (the "Precompiled" normalizer of tokenizer.json).
 *
 * Binary layout: u32 LE byte size of the trie, the trie as u32 LE units (a Darts-clone double
 * array keyed by UTF-8 bytes), then the replacement strings, each ended by a NUL. A key's value is
 * the byte offset of its replacement in that string blob.
 *
 * Unit bits: 0-7 label, 8 has-leaf, 9 "offset counted in 256ths", 10-31 offset. A value unit has
 * bit 31 set, so it never matches a byte label. From a node at position p, base = p ^ offset; the
 * child for byte c sits at base ^ c and the node's own value (if has-leaf) at base.
 *
 * Normalisation follows Hugging Face tokenizers (what diffusers runs), not SentencePiece itself:
 * the text is cut into extended grapheme clusters; a cluster shorter than 6 UTF-8 bytes is replaced
 * whole by the value of the SHORTEST key that is a prefix of it; otherwise (or with no such key)
 * each code point is looked up the same way and kept when nothing matches.
 */
import { TokenizerFileError } from './tokenizer-errors.ts';

const UTF8 = new TextEncoder();
const UTF8_STRICT = new TextDecoder('utf-8', { fatal: true });

export class PrecompiledCharsmap {
  private readonly units: Uint32Array;
  private readonly blob: Uint8Array;
  private readonly graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  private readonly cache = new Map<string, string | null>();

  private constructor(units: Uint32Array, blob: Uint8Array) {
    this.units = units;
    this.blob = blob;
  }

  /** Parses the base64 text of tokenizer.json's 'precompiled_charsmap'. */
  static fromBase64(b64: string, source: string, field: string): PrecompiledCharsmap {
    const bytes = decodeBase64(b64);
    const bad = (why: string): never => {
      throw new TokenizerFileError(source, field, `is not a SentencePiece charsmap (${why}); re-export the tokenizer`);
    };
    if (bytes.length < 4) bad(`${bytes.length} bytes`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const trieBytes = view.getUint32(0, true);
    if (trieBytes % 4 !== 0 || trieBytes === 0 || 4 + trieBytes > bytes.length) bad(`trie size ${trieBytes} does not fit`);
    const units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < units.length; i++) units[i] = view.getUint32(4 + 4 * i, true);
    const blob = bytes.subarray(4 + trieBytes);
    try {
      UTF8_STRICT.decode(blob);
    } catch {
      bad('replacement strings are not UTF-8');
    }
    return new PrecompiledCharsmap(units, blob);
  }

  /** Blob offsets of every key that is a prefix of `key`, shortest key first. */
  prefixValues(key: Uint8Array): number[] {
    const u = this.units;
    const out: number[] = [];
    let pos = unitOffset(u[0]!);
    for (const c of key) {
      if (c === 0) break;
      pos ^= c;
      if (pos >= u.length) break; // a well-formed array never gets here; a bad one stops matching
      const unit = u[pos]!;
      if ((unit & 0x800000ff) >>> 0 !== c) break;
      pos ^= unitOffset(unit);
      if ((unit >>> 8) & 1) {
        if (pos >= u.length) break;
        out.push(u[pos]! & 0x7fffffff);
      }
    }
    return out;
  }

  /** The replacement for a chunk (grapheme or code point), or null when no key starts it. */
  transform(chunk: string): string | null {
    const hit = this.cache.get(chunk);
    if (hit !== undefined) return hit;
    const values = this.prefixValues(UTF8.encode(chunk));
    let result: string | null = null;
    if (values.length > 0) {
      const start = values[0]!;
      if (start <= this.blob.length) {
        let end = this.blob.indexOf(0, start);
        if (end < 0) end = this.blob.length;
        result = UTF8_STRICT.decode(this.blob.subarray(start, end));
      }
    }
    this.cache.set(chunk, result);
    return result;
  }

  normalize(text: string): string {
    let out = '';
    for (const { segment } of this.graphemes.segment(text)) {
      if (utf8Length(segment) < 6) {
        const whole = this.transform(segment);
        if (whole !== null) {
          out += whole;
          continue;
        }
      }
      for (const ch of segment) {
        const r = this.transform(ch);
        out += r === null ? ch : r;
      }
    }
    return out;
  }
}

// atob rather than Buffer: src/model must also run in a browser.
function decodeBase64(b64: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    bin = '';
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function unitOffset(unit: number): number {
  return (unit >>> 10) << ((unit & 0x200) >>> 6);
}

function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}
