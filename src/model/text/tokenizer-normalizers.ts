/**
 * The 'normalizer' of tokenizer.json: the kinds SentencePiece conversions write (Precompiled,
 * Replace, Strip, NFKC...), in a Sequence or alone. Anything else is refused by name.
 *
 * Each step also says whether the first character of its output still comes from the first
 * character of its input: Metaspace's prepend_scheme "first" asks whether a piece starts at
 * offset 0 of the original text, and in Hugging Face tokenizers a step that deletes the leading
 * characters (Strip left, a Replace with empty content) moves that offset; a charsmap rule mapping
 * to "" does not (HF keeps the alignment at 0 there).
 */
import { PrecompiledCharsmap } from './tokenizer-charsmap.ts';
import { JsonFields } from './tokenizer-errors.ts';

export interface Normalized {
  text: string;
  /** The output's first character still comes from the input's first character. */
  keptStart: boolean;
}

export type Normalizer = (text: string) => Normalized;

const SUPPORTED = ['Sequence', 'Precompiled', 'Replace', 'Strip', 'NFC', 'NFD', 'NFKC', 'NFKD', 'Lowercase', 'Prepend'] as const;

// Rust's char::is_whitespace (Unicode White_Space), used by HF's Strip and added-token stripping.
export const RUST_WHITESPACE = '\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000';
const LEADING_WS = new RegExp(`^[${RUST_WHITESPACE}]+`, 'u');
const TRAILING_WS = new RegExp(`[${RUST_WHITESPACE}]+$`, 'u');

/** Sequences inside sequences: real files have one level; a deep one is built to overflow the stack. */
const MAX_SEQUENCE_DEPTH = 8;

/** Builds the normalizer of a tokenizer.json 'normalizer' value; null means none. */
export function buildNormalizer(spec: unknown, source: string, path = 'normalizer', depth = 0): Normalizer | null {
  if (spec === null || spec === undefined) return null;
  const f = JsonFields.of(source, path, spec);
  const type = f.type(SUPPORTED, 'normalizer');
  switch (type) {
    case 'Sequence': {
      if (depth >= MAX_SEQUENCE_DEPTH) f.fail('normalizers', `Sequence nested more than ${MAX_SEQUENCE_DEPTH} deep; flatten it`);
      const steps = f.array('normalizers').map((s, i) => buildNormalizer(s, source, `${f.at('normalizers')}[${i}]`, depth + 1));
      const real = steps.filter((s): s is Normalizer => s !== null);
      return (text) => {
        let keptStart = true;
        for (const step of real) {
          const r = step(text);
          text = r.text;
          keptStart &&= r.keptStart;
        }
        return { text, keptStart };
      };
    }
    case 'Precompiled': {
      const b64 = f.string('precompiled_charsmap');
      if (b64 === '') return null; // an "identity" SentencePiece model has an empty charsmap
      const map = PrecompiledCharsmap.fromBase64(b64, source, f.at('precompiled_charsmap'));
      return (text) => ({ text: map.normalize(text), keptStart: true });
    }
    case 'Replace':
      return buildReplace(f);
    case 'Strip': {
      const left = f.bool('strip_left', false);
      const right = f.bool('strip_right', false);
      return (text) => {
        let out = text;
        let keptStart = true;
        if (left) {
          const m = LEADING_WS.exec(out);
          if (m) {
            out = out.slice(m[0].length);
            keptStart = false;
          }
        }
        if (right) out = out.replace(TRAILING_WS, '');
        return { text: out, keptStart };
      };
    }
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return (text) => ({ text: text.normalize(type), keptStart: true });
    case 'Lowercase':
      // per code point, like HF (no final-sigma rule: 'Σ' is always 'σ')
      return (text) => ({ text: Array.from(text, (ch) => ch.toLowerCase()).join(''), keptStart: true });
    case 'Prepend': {
      const prefix = f.string('prepend');
      return (text) => ({ text: text === '' ? text : prefix + text, keptStart: true });
    }
  }
  throw new Error(`unreachable normalizer type ${type}`);
}

/** One atom: a literal character, an escape such as \\s, or a [class] without nesting. */
const ATOM = String.raw`(?:[^\\\[\]().*+?{}|^$]|\\[sSdDwWtnr .\\\-+*?()\[\]{}|^$/]|\[(?:[^\\\]\[]|\\.)+\])`;
/** An atom with an optional quantifier whose bounds are small numbers. */
const SAFE_REGEX = new RegExp(String.raw`^${ATOM}(?:[+*?]|\{\d{1,2}(?:,\d{0,2})?\})?$`);

/**
 * Why a Replace regex is refused, or undefined when it is one repeated character class (" {2,}",
 * "\\s+", "[\\t ]+"): such a pattern matches in time linear in the text, while alternations
 * and nested quantifiers like "(a+)+$" can take exponential time in a backtracking engine.
 */
export function unboundedRegexProblem(src: string): string | undefined {
  if (src.length <= 200 && SAFE_REGEX.test(src)) return undefined;
  return `'${src.length > 60 ? `${src.slice(0, 60)}...` : src}' is not supported: egox runs only one repeated character or class (like " {2,}" or "\\s+"), whose matching time is bounded`;
}

function buildReplace(f: JsonFields): Normalizer {
  const pattern = f.object('pattern');
  const content = f.string('content');
  let all: RegExp;
  let atStart: RegExp;
  if (pattern.has('String')) {
    const literal = pattern.string('String');
    if (literal === '') pattern.fail('String', 'an empty pattern is not supported');
    const escaped = literal.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    all = new RegExp(escaped, 'gu');
    atStart = new RegExp(escaped, 'yu');
  } else if (pattern.has('Regex')) {
    // Rust regex syntax; the patterns converters write (" {2,}", "\\s+") mean the same in JS.
    // Rust's engine is linear-time, JavaScript's backtracks: only patterns that cannot backtrack
    // more than a bounded amount (one character class, optionally repeated) are run.
    const src = pattern.string('Regex');
    const unsafe = unboundedRegexProblem(src);
    if (unsafe) pattern.fail('Regex', unsafe);
    try {
      all = new RegExp(src, 'gu');
      atStart = new RegExp(src, 'yu');
    } catch (e) {
      pattern.fail('Regex', `cannot be compiled as a JavaScript regular expression (${(e as Error).message})`);
    }
  } else {
    f.fail('pattern', "must have a 'String' or a 'Regex' field");
  }
  return (text) => {
    let keptStart = true;
    if (content === '') {
      atStart.lastIndex = 0;
      const m = atStart.exec(text);
      if (m && m[0].length > 0) keptStart = false;
    }
    return { text: text.replace(all, () => content), keptStart };
  };
}
