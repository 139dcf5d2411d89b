/**
 * The 'pre_tokenizer' of tokenizer.json: Metaspace (alone or in a Sequence), which SentencePiece
 * conversions write. Spaces become the replacement ('▁'); a '▁' is prepended when the piece does
 * not start with one (prepend_scheme "always"; "first": only for the piece that starts the
 * original text; "never"); with split, the piece is cut before every '▁'.
 *
 * Legacy files have `add_prefix_space` instead of prepend_scheme: true means "always" (the
 * default), false needs "never", as in Hugging Face tokenizers.
 */
import { JsonFields } from './tokenizer-errors.ts';

/** Splits one normalized piece into words; startsText: the piece starts the original text. */
export type PreTokenizer = (piece: string, startsText: boolean) => string[];

const SCHEMES = ['always', 'first', 'never'] as const;
type PrependScheme = (typeof SCHEMES)[number];

export function buildPreTokenizer(spec: unknown, source: string, path = 'pre_tokenizer'): PreTokenizer | null {
  if (spec === null || spec === undefined) return null;
  const f = JsonFields.of(source, path, spec);
  const type = f.type(['Metaspace', 'Sequence'], 'pre_tokenizer');
  if (type === 'Sequence') {
    const steps = f.array('pretokenizers').map((s, i) => buildPreTokenizer(s, source, `${f.at('pretokenizers')}[${i}]`));
    const real = steps.filter((s): s is PreTokenizer => s !== null);
    return (piece, startsText) => {
      let words = [{ text: piece, startsText }];
      for (const step of real) {
        words = words.flatMap((w) => step(w.text, w.startsText).map((text, k) => ({ text, startsText: w.startsText && k === 0 })));
      }
      return words.map((w) => w.text);
    };
  }
  return buildMetaspace(f);
}

function buildMetaspace(f: JsonFields): PreTokenizer {
  const replacement = f.string('replacement');
  if ([...replacement].length !== 1) f.fail('replacement', `must be one character, found "${replacement}"`);
  let scheme: PrependScheme = 'always';
  if (f.has('prepend_scheme')) {
    const s = f.string('prepend_scheme');
    if (!(SCHEMES as readonly string[]).includes(s)) f.fail('prepend_scheme', `must be one of ${SCHEMES.join(', ')}, found "${s}"`);
    scheme = s as PrependScheme;
  }
  if (f.has('add_prefix_space') && !f.bool('add_prefix_space', true)) {
    if (f.has('prepend_scheme') && scheme !== 'never') {
      f.fail('add_prefix_space', `is false but prepend_scheme is "${scheme}"; remove one of them`);
    }
    scheme = 'never';
  }
  const split = f.bool('split', true);
  return (piece, startsText) => {
    let text = piece.replaceAll(' ', replacement);
    if (text !== '' && !text.startsWith(replacement) && (scheme === 'always' || (scheme === 'first' && startsText))) {
      text = replacement + text;
    }
    if (text === '') return [];
    if (!split) return [text];
    const words: string[] = [];
    let from = 0;
    const step = replacement.length;
    for (let at = text.indexOf(replacement, step); at >= 0; at = text.indexOf(replacement, at + step)) {
      words.push(text.slice(from, at));
      from = at;
    }
    words.push(text.slice(from));
    return words;
  };
}
