// tokenizer.json as an attacker writes it: normalizers nested to overflow the builder, a
// Replace regex that backtracks exponentially, a 3,000-character piece meeting a long word.
import { describe, expect, it } from 'vitest';
import { UnigramModel } from '../../src/model/text/tokenizer-unigram.ts';
import { TokenizerFileError, UnigramTokenizer } from '../../src/model/text/tokenizer.ts';

function tokenizerJson(normalizer: unknown, vocab: [string, number][] = [['<unk>', 0], ['\u2581', -1], ['a', -2], ['b', -2]]): string {
  return JSON.stringify({
    version: '1.0',
    added_tokens: [],
    normalizer,
    pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', add_prefix_space: true },
    model: { type: 'Unigram', unk_id: 0, vocab, byte_fallback: false },
  });
}

function refused(text: string, pattern: RegExp): void {
  let err: unknown;
  try {
    UnigramTokenizer.fromJsonText(text, 'tok.json');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TokenizerFileError);
  expect((err as Error).message).not.toMatch(/\n/);
  expect((err as Error).message).toMatch(pattern);
}

function nestedSequence(depth: number): unknown {
  let n: unknown = { type: 'NFKC' };
  for (let i = 0; i < depth; i++) n = { type: 'Sequence', normalizers: [n] };
  return n;
}

describe('hostile tokenizer.json', () => {
  it('a normalizer Sequence nested 20,000 deep is refused by the JSON depth rule', () => {
    // Written by hand: JSON.stringify itself would overflow on a value this deep.
    const text = `{"normalizer": ${'{"type": "Sequence", "normalizers": ['.repeat(20_000)}{"type": "NFKC"}${']}'.repeat(20_000)}, "model": {}}`;
    refused(text, /nested deeper than 64/);
  });

  it('a Sequence nested within the JSON bound but deeper than any real file is refused by the builder', () => {
    refused(tokenizerJson(nestedSequence(20)), /Sequence nested more than 8 deep/);
  });

  it('a one-level Sequence still builds', () => {
    const tok = UnigramTokenizer.fromJsonText(tokenizerJson(nestedSequence(1)), 'tok.json');
    expect(tok.tokenize('ab')).toEqual([1, 2, 3]);
  });

  for (const regex of ['(a+)+$', '(a|a)*b', '\\s*\\s*\\s*x', '(?=a)']) {
    it(`a Replace regex ${JSON.stringify(regex)} that a backtracking engine may run for ever is refused`, () => {
      refused(tokenizerJson({ type: 'Replace', pattern: { Regex: regex }, content: '' }), /is not supported: egox runs only one repeated character or class/);
    });
  }

  it("the converters' patterns (' {2,}', '\\s+') are still run", () => {
    const tok = UnigramTokenizer.fromJsonText(tokenizerJson({ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }), 'tok.json');
    expect(tok.tokenize('a    b')).toEqual(tok.tokenize('a b'));
  });

  it('a 3,000-character piece meeting a 50,000-character word segments without trying every window', () => {
    const long = 'a'.repeat(3000);
    const model = new UnigramModel([['<unk>', 0], ['a', -2], [long, -1], ['b', -2]], 0, false);
    const word = 'a'.repeat(50_000) + 'b';
    const pieces = model.segment(word);
    // Greedy by score: the long piece wins wherever it fits.
    expect(pieces.filter((p) => p === long)).toHaveLength(Math.floor(50_000 / 3000));
    expect(pieces.join('')).toBe(word);
  });

  it('long pieces are found exactly as an unbounded Viterbi finds them (ties included)', () => {
    const vocab: [string, number][] = [['<unk>', 0], ['x', -3], ['y', -3], ['x'.repeat(17), -10], ['x'.repeat(17) + 'y', -4], ['y' + 'x'.repeat(19), -5], ['xy'.repeat(10), -7], ['yx'.repeat(9), -7]];
    const model = new UnigramModel(vocab, 0, false);
    let seed = 5;
    for (let t = 0; t < 200; t++) {
      let word = '';
      const n = 1 + (t % 60);
      for (let i = 0; i < n; i++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        word += seed >>> 31 ? 'x' : seed & 0x100000 ? 'y' : 'x';
      }
      expect(model.segment(word)).toEqual(referenceViterbi(vocab.slice(1), word));
    }
  });
});

/** Viterbi over every piece at every position, visited by start then length, strictly-better wins. */
function referenceViterbi(vocab: [string, number][], word: string): string[] {
  const best: { score: number; start: number }[] = [{ score: 0, start: -1 }];
  for (let i = 0; i < word.length; i++) {
    if (!best[i]) continue;
    const byLength = [...vocab].sort((a, b) => a[0].length - b[0].length);
    for (const [piece, score] of byLength) {
      if (!word.startsWith(piece, i)) continue;
      const j = i + piece.length;
      const cand = best[i]!.score + score;
      if (!best[j] || cand > best[j]!.score) best[j] = { score: cand, start: i };
    }
  }
  const out: string[] = [];
  for (let end = word.length; end > 0; end = best[end]!.start) out.push(word.slice(best[end]!.start, end));
  return out.reverse();
}
