import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { cleanPrompt, collapseWhitespace, unescapeHtml } from '../../src/model/text/prompt-clean.ts';
import { PrecompiledCharsmap } from '../../src/model/text/tokenizer-charsmap.ts';
import { UnigramModel } from '../../src/model/text/tokenizer-unigram.ts';
import { encodePrompt, TokenizerFileError, UnigramTokenizer } from '../../src/model/text/tokenizer.ts';

// Goldens come from test/reference/tokenizer_reference.py: an independent Python implementation,
// checked there case by case against Hugging Face `tokenizers` (the oracle named in cases.json).
const GOLDEN = 'test/golden/tokenizer';

interface Case {
  tokenizer: string;
  name: string;
  text: string;
  maxLength: number;
  ids: number[];
  tokens: string[];
}
const golden = JSON.parse(fs.readFileSync(`${GOLDEN}/cases.json`, 'utf8')) as { oracle: string | null; cases: Case[] };
const cleanCases = (JSON.parse(fs.readFileSync(`${GOLDEN}/prompt_clean.json`, 'utf8')) as { cases: { text: string; clean: string }[] }).cases;

const tokenizers = new Map<string, UnigramTokenizer>();
function load(stem: string): UnigramTokenizer {
  let t = tokenizers.get(stem);
  if (!t) {
    const path = `${GOLDEN}/${stem}.tokenizer.json`;
    t = UnigramTokenizer.fromJsonText(fs.readFileSync(path, 'utf8'), path);
    tokenizers.set(stem, t);
  }
  return t;
}
function rawJson(stem: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(`${GOLDEN}/${stem}.tokenizer.json`, 'utf8'));
}
function expectExit2(fn: () => unknown, ...fragments: string[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TokenizerFileError);
  const e = err as TokenizerFileError;
  expect(e.exitCode).toBe(2);
  expect(e.message).not.toContain('\n');
  for (const f of fragments) expect(e.message).toContain(f);
}

describe('tokenizer goldens', () => {
  it('covers the four test tokenizers and was checked against the HF oracle', () => {
    expect(new Set(golden.cases.map((c) => c.tokenizer))).toEqual(new Set(['unigram_a', 'unigram_b', 'unigram_c', 'unigram_d']));
    expect(golden.oracle).toMatch(/^tokenizers /);
    expect(golden.cases.length).toBeGreaterThanOrEqual(80);
  });

  for (const c of golden.cases) {
    it(`${c.tokenizer} ${c.name}`, () => {
      const tok = load(c.tokenizer);
      const enc = tok.encode(c.text, { maxLength: c.maxLength });
      const got = Array.from(enc.ids.subarray(0, enc.length));
      if (got.join() !== c.ids.join()) {
        // show pieces, not numbers, when it fails
        expect(got.map((id) => tok.idToToken(id))).toEqual(c.tokens);
      }
      expect(got).toEqual(c.ids);
      expect(enc.length).toBe(c.ids.length);
      expect(enc.ids.length).toBe(c.maxLength);
      expect(Array.from(enc.ids.subarray(enc.length)).every((v) => v === 0)).toBe(true);
      expect(Array.from(enc.attentionMask)).toEqual(Array.from({ length: c.maxLength }, (_, i) => (i < c.ids.length ? 1 : 0)));
    });
  }

  it('truncates the long prompt to 511 text tokens + </s> at 512', () => {
    const c = golden.cases.find((x) => x.tokenizer === 'unigram_a' && x.name === 'long_truncated')!;
    const tok = load('unigram_a');
    const full = tok.tokenize(c.text);
    expect(full.length).toBeGreaterThan(600);
    const enc = tok.encode(c.text);
    expect(enc.length).toBe(512);
    expect(Array.from(enc.ids.subarray(0, 511))).toEqual(full.slice(0, 511));
    expect(enc.ids[511]).toBe(1);
    expect(enc.attentionMask.every((m) => m === 1)).toBe(true);
  });
});

describe('encode options', () => {
  const tok = load('unigram_a');

  it('pads with <pad>, adds </s> and masks by default at 512', () => {
    const enc = tok.encode('a dog');
    expect(enc.ids.length).toBe(512);
    expect(enc.length).toBe(3);
    expect(Array.from(enc.ids.subarray(0, 4))).toEqual([tok.tokenToId('▁a'), tok.tokenToId('▁dog'), 1, 0]);
    expect(enc.attentionMask.reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('can skip special tokens, padding and truncation', () => {
    const plain = tok.encode('a dog', { addSpecialTokens: false, padding: false });
    expect(Array.from(plain.ids)).toEqual([tok.tokenToId('▁a'), tok.tokenToId('▁dog')]);
    const long = 'a '.repeat(20).trim();
    const untruncated = tok.encode(long, { maxLength: 8, truncation: false });
    expect(untruncated.length).toBe(21);
    expect(untruncated.ids.length).toBe(21);
    const truncated = tok.encode(long, { maxLength: 8 });
    expect(truncated.length).toBe(8);
    expect(truncated.ids[7]).toBe(1);
    expect(() => tok.encode('x', { maxLength: 0 })).toThrow(RangeError);
  });

  it('encodePrompt cleans the prompt first', () => {
    const a = encodePrompt(tok, '  a&amp;amp;dog \n\t in   the park ');
    const b = tok.encode('a&dog in the park');
    expect(Array.from(a.ids)).toEqual(Array.from(b.ids));
    expect(a.length).toBe(b.length);
  });

  it('maps tokens and ids both ways, added tokens included', () => {
    expect(tok.tokenToId('</s>')).toBe(1);
    expect(tok.idToToken(1)).toBe('</s>');
    expect(tok.tokenToId('<0x41>')).toBe(4 + 0x41);
    expect(tok.tokenToId('<extra_id_2>')).toBe(tok.vocabSize - 1);
    expect(tok.tokenToId('not a piece')).toBeUndefined();
  });
});

describe('unigram Viterbi', () => {
  it('takes the best total score, not the longest match', () => {
    const m = new UnigramModel(
      [['<unk>', 0], ['a', -1], ['b', -1], ['c', -1], ['ab', -0.5], ['abc', -5], ['bc', -0.4]],
      0,
      false,
    );
    // abc: 'abc' -5 | 'ab'+'c' -1.5 | 'a'+'bc' -1.4 (best)
    expect(m.segment('abc')).toEqual(['a', 'bc']);
  });

  it('breaks exact ties like HF tokenizers: the earlier start wins', () => {
    // checked against tokenizers 0.22.2: 'ab' -> [ab], 'abc' -> [a, bc] (all paths score -2 / -3)
    const m = new UnigramModel([['<unk>', 0], ['a', -1], ['b', -1], ['ab', -2], ['c', -1], ['bc', -2]], 0, false);
    expect(m.segment('ab')).toEqual(['ab']);
    expect(m.segment('abc')).toEqual(['a', 'bc']);
  });

  it('fuses unknown runs, then falls back to bytes or to <unk>', () => {
    const pieces: [string, number][] = [['<unk>', 0], ['a', -1]];
    const bytes: [string, number][] = Array.from({ length: 256 }, (_, b) => [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0]);
    const m = new UnigramModel([...pieces, ...bytes], 0, true);
    expect(m.segment('aéña')).toEqual(['a', 'éñ', 'a']);
    expect(m.tokenize('aé')).toEqual([1, 2 + 0xc3, 2 + 0xa9]);
    const noFallback = new UnigramModel(pieces, 0, false);
    expect(noFallback.tokenize('aéña')).toEqual([1, 0, 1]);
    // byte fallback needs every byte piece; missing one gives <unk>
    const partial = new UnigramModel([...pieces, ['<0xC3>', 0]], 0, true);
    expect(partial.tokenize('é')).toEqual([0]);
  });

  it('refuses text it cannot cover when the model has no unk_id', () => {
    const m = new UnigramModel([['a', -1]], null, false, 'x.json');
    expectExit2(() => m.tokenize('ab'), 'x.json', 'model.unk_id');
  });
});

describe('precompiled charsmap', () => {
  const spec = rawJson('unigram_a').normalizer.normalizers[0];
  const map = PrecompiledCharsmap.fromBase64(spec.precompiled_charsmap, 't', 'f');
  const enc = new TextEncoder();

  it('finds every key that prefixes the input, shortest first', () => {
    expect(map.prefixValues(enc.encode('e\u0301x')).length).toBe(1);
    expect(map.prefixValues(enc.encode('e')).length).toBe(0);
    // two rules prefix 'ｃ' + U+0300: the shorter ('ｃ' -> 'c') is the one used
    expect(map.prefixValues(enc.encode('\uff43\u0300')).length).toBe(2);
    expect(map.transform('\uff43\u0300')).toBe('c');
    expect(map.transform('e\u0301')).toBe('\u00e9');
    expect(map.transform('\ufb01')).toBe('fi');
    expect(map.transform('\u200b')).toBe('');
    expect(map.transform('z')).toBeNull();
  });

  it('replaces a short grapheme whole by its shortest-prefix rule (HF behaviour)', () => {
    // 'Ａ' + U+0301 is one 5-byte grapheme: rule 'Ａ' -> 'A' swallows the accent
    expect(map.normalize('x\uff21\u0301y')).toBe('xAy');
    // 7 bytes: looked up code point by code point, the accents stay
    expect(map.normalize('\uff21\u0301\u0301')).toBe('A\u0301\u0301');
    expect(map.normalize('tab\there\u3000')).toBe('tab here ');
  });

  it('refuses a charsmap that is not one', () => {
    expectExit2(() => PrecompiledCharsmap.fromBase64('AAAA', 'bad.json', 'normalizer.precompiled_charsmap'), 'bad.json', 'normalizer.precompiled_charsmap');
    expectExit2(() => PrecompiledCharsmap.fromBase64('QAAAAAEC', 'bad.json', 'f'), 'trie size');
  });
});

describe('tokenizer.json errors', () => {
  const withChange = (change: (j: Record<string, any>) => void): string => {
    const j = rawJson('unigram_a');
    change(j);
    return JSON.stringify(j);
  };

  it('names the file and field of what is unsupported or malformed', () => {
    expectExit2(() => UnigramTokenizer.fromJsonText('{', 'tok.json'), 'tok.json', 'not valid JSON');
    expectExit2(() => UnigramTokenizer.fromJsonText(withChange((j) => (j.model.type = 'BPE')), 'tok.json'), 'model.type', "'BPE'");
    expectExit2(
      () => UnigramTokenizer.fromJsonText(withChange((j) => (j.normalizer.normalizers[1] = { type: 'BertNormalizer' })), 'tok.json'),
      'normalizer.normalizers[1].type',
      'BertNormalizer',
    );
    expectExit2(() => UnigramTokenizer.fromJsonText(withChange((j) => (j.pre_tokenizer = { type: 'ByteLevel' })), 'tok.json'), 'pre_tokenizer.type');
    expectExit2(
      () => UnigramTokenizer.fromJsonText(withChange((j) => (j.post_processor = { type: 'BertProcessing' })), 'tok.json'),
      'post_processor.type',
    );
    expectExit2(() => UnigramTokenizer.fromJsonText(withChange((j) => (j.model.vocab[5] = ['x'])), 'tok.json'), 'model.vocab[5]');
    expectExit2(() => UnigramTokenizer.fromJsonText(withChange((j) => (j.model.unk_id = 1e6)), 'tok.json'), 'model.unk_id');
    expectExit2(
      () => UnigramTokenizer.fromJsonText(withChange((j) => (j.added_tokens[0].single_word = true)), 'tok.json'),
      'added_tokens[0].single_word',
    );
    expectExit2(
      () =>
        UnigramTokenizer.fromJsonText(
          withChange((j) => (j.pre_tokenizer = { type: 'Metaspace', replacement: '▁', add_prefix_space: false, prepend_scheme: 'always' })),
          'tok.json',
        ),
      'add_prefix_space',
    );
    expectExit2(
      () => UnigramTokenizer.fromJsonText(withChange((j) => (j.normalizer.normalizers[1].pattern = { Regex: '(' })), 'tok.json'),
      'normalizer.normalizers[1].pattern.Regex',
    );
    expectExit2(
      () =>
        UnigramTokenizer.fromJsonText(
          withChange((j) => j.added_tokens.push({ ...j.added_tokens[0], content: '<new>', id: 900 }, { ...j.added_tokens[0], content: '<new>', id: 901 })),
          'tok.json',
        ),
      'added_tokens',
      'listed twice',
    );
  });

  it('gives an added token outside the vocabulary the id in the file', () => {
    const t = UnigramTokenizer.fromJsonText(withChange((j) => j.added_tokens.push({ ...j.added_tokens[0], content: '<new>', id: 900 })), 'tok.json');
    expect(t.tokenize('a<new>dog')).toEqual([t.tokenToId('▁a'), 900, t.tokenToId('▁dog')]);
    expect(t.vocabSize).toBe(901);
  });

  it('reads legacy add_prefix_space=false as prepend "never"', () => {
    const t = UnigramTokenizer.fromJsonText(
      withChange((j) => (j.pre_tokenizer = { type: 'Metaspace', replacement: '▁', add_prefix_space: false })),
      'tok.json',
    );
    expect(t.tokenize('dog').map((id) => t.idToToken(id))).not.toContain('▁dog');
  });
});

describe('prompt clean-up', () => {
  for (const c of cleanCases) {
    it(`matches Python for ${JSON.stringify(c.text).slice(0, 50)}`, () => {
      expect(cleanPrompt(c.text)).toBe(c.clean);
    });
  }

  it('leaves names only HTML5 defines as written (documented gap)', () => {
    expect(unescapeHtml('a &NotEqualTilde; b &rarr;')).toBe('a &NotEqualTilde; b \u2192');
  });

  it('collapses Python whitespace, not JavaScript whitespace', () => {
    expect(collapseWhitespace('a\u001c\u0085b\ufeffc')).toBe('a b\ufeffc');
  });
});
