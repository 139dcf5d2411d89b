/**
 * The SentencePiece unigram model of tokenizer.json ('model': {type: 'Unigram', vocab, unk_id,
 * byte_fallback}): the segmentation with the highest sum of piece scores (log probabilities),
 * found by Viterbi over code-point positions.
 *
 * Matches Hugging Face tokenizers exactly, ties included: candidates are visited by start
 * position, then by length, and a later one replaces the best only when strictly better. A
 * position that no one-character piece covers also gets an unknown candidate scored
 * (lowest piece score - 10). Consecutive unknowns are fused into one string; a string that is not
 * a piece becomes its UTF-8 bytes as <0xXX> pieces when byte_fallback is on (and all 256 exist),
 * else the unknown id.
 */
import { JsonFields, TokenizerFileError } from './tokenizer-errors.ts';

const UNKNOWN_PENALTY = 10;
/**
 * Pieces up to this many UTF-16 units are looked up by slicing every window (SentencePiece's
 * default max_sentencepiece_length is 16). Longer ones are found through their first SHORT units
 * and a direct comparison, so a 3,000-character piece does not make every position of a long
 * word slice and hash 3,000 windows.
 */
const SHORT = 16;
const UTF8 = new TextEncoder();

export class UnigramModel {
  /** Piece -> id (a repeated piece keeps its last id, as HF's map does). */
  private readonly ids = new Map<string, number>();
  private readonly scores: Float64Array;
  private readonly pieceList: string[];
  private readonly maxPieceChars: number;
  /** Ids of the pieces longer than SHORT by their first SHORT units, shortest first. */
  private readonly longByPrefix = new Map<string, number[]>();
  private readonly unknownScore: number;
  readonly unkId: number | null;
  readonly byteFallback: boolean;
  /** Where the vocabulary came from, for messages. */
  readonly source: string;

  constructor(pieces: [string, number][], unkId: number | null, byteFallback: boolean, source = 'tokenizer') {
    this.pieceList = pieces.map((p) => p[0]);
    this.scores = new Float64Array(pieces.length);
    let minScore = Infinity;
    let maxChars = 1;
    for (let id = 0; id < pieces.length; id++) {
      const [piece, score] = pieces[id]!;
      this.ids.set(piece, id);
      this.scores[id] = score;
      if (score < minScore) minScore = score;
      // UTF-16 length bounds the code-point length: a longer search window only costs lookups
      if (piece.length > maxChars) maxChars = Math.min(piece.length, SHORT);
      if (piece.length > SHORT) {
        const key = piece.slice(0, SHORT);
        const list = this.longByPrefix.get(key) ?? [];
        list.push(id);
        this.longByPrefix.set(key, list);
      }
    }
    for (const list of this.longByPrefix.values()) list.sort((a, b) => this.pieceList[a]!.length - this.pieceList[b]!.length);
    this.maxPieceChars = maxChars;
    this.unknownScore = minScore - UNKNOWN_PENALTY;
    this.unkId = unkId;
    this.byteFallback = byteFallback;
    this.source = source;
  }

  static fromJson(spec: JsonFields): UnigramModel {
    const vocabRaw = spec.array('vocab');
    if (vocabRaw.length === 0) spec.fail('vocab', 'is empty');
    const pieces: [string, number][] = vocabRaw.map((entry, i) => {
      if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
        throw new TokenizerFileError(spec.source, `${spec.at('vocab')}[${i}]`, 'must be a [piece, score] pair');
      }
      return [entry[0], entry[1]];
    });
    const unkId = spec.has('unk_id') ? spec.int('unk_id') : null;
    if (unkId !== null && unkId >= pieces.length) spec.fail('unk_id', `${unkId} is past the vocabulary (${pieces.length} pieces)`);
    return new UnigramModel(pieces, unkId, spec.bool('byte_fallback', false), spec.source);
  }

  get size(): number {
    return this.pieceList.length;
  }

  idOf(piece: string): number | undefined {
    return this.ids.get(piece);
  }

  pieceOf(id: number): string | undefined {
    return this.pieceList[id];
  }

  /** The best segmentation of one pre-tokenized word, as strings (unknown runs fused). */
  segment(word: string): string[] {
    if (word === '') return [];
    const bounds = codePointBounds(word);
    const n = bounds.length - 1;
    const bestScore = new Float64Array(n + 1);
    const bestStart = new Int32Array(n + 1).fill(-1);
    const bestId = new Int32Array(n + 1).fill(-1);
    for (let i = 0; i < n; i++) {
      const here = bestScore[i]!;
      let coveredByOneChar = false;
      const last = Math.min(n, i + this.maxPieceChars);
      for (let j = i + 1; j <= last; j++) {
        const id = this.ids.get(word.slice(bounds[i], bounds[j]));
        if (id === undefined) continue;
        const cand = this.scores[id]! + here;
        if (bestStart[j] < 0 || cand > bestScore[j]!) {
          bestScore[j] = cand;
          bestStart[j] = i;
          bestId[j] = id;
        }
        if (j === i + 1) coveredByOneChar = true;
      }
      if (this.longByPrefix.size > 0) this.longCandidates(word, bounds, i, bestScore, bestStart, bestId);
      if (!coveredByOneChar) {
        if (this.unkId === null) {
          throw new TokenizerFileError(this.source, 'model.unk_id', `is missing but '${word.slice(bounds[i], bounds[i + 1])}' is not in the vocabulary`);
        }
        const cand = this.unknownScore + here;
        if (bestStart[i + 1] < 0 || cand > bestScore[i + 1]!) {
          bestScore[i + 1] = cand;
          bestStart[i + 1] = i;
          bestId[i + 1] = this.unkId;
        }
      }
    }
    const out: string[] = [];
    let unknownRun = '';
    for (let end = n; end > 0; ) {
      const start = bestStart[end]!;
      const text = word.slice(bounds[start], bounds[end]);
      if (bestId[end] === this.unkId) {
        unknownRun = text + unknownRun;
      } else {
        if (unknownRun !== '') {
          out.push(unknownRun);
          unknownRun = '';
        }
        out.push(text);
      }
      end = start;
    }
    if (unknownRun !== '') out.push(unknownRun);
    return out.reverse();
  }

  /** Offers the long pieces that start at code point i of word to the Viterbi arrays. */
  private longCandidates(word: string, bounds: number[], i: number, bestScore: Float64Array, bestStart: Int32Array, bestId: Int32Array): void {
    const at = bounds[i]!;
    const list = this.longByPrefix.get(word.slice(at, at + SHORT));
    if (!list) return;
    for (const id of list) {
      const piece = this.pieceList[id]!;
      if (!word.startsWith(piece, at)) continue;
      const j = indexOfOffset(bounds, at + piece.length);
      if (j < 0) continue;
      const cand = this.scores[id]! + bestScore[i]!;
      if (bestStart[j] < 0 || cand > bestScore[j]!) {
        bestScore[j] = cand;
        bestStart[j] = i;
        bestId[j] = id;
      }
    }
  }

  /** Ids of one pre-tokenized word. */
  tokenize(word: string): number[] {
    const out: number[] = [];
    for (const piece of this.segment(word)) {
      const id = this.ids.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      if (this.byteFallback) {
        const bytes = Array.from(UTF8.encode(piece), (b) => this.ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
        if (bytes.every((b) => b !== undefined)) {
          out.push(...(bytes as number[]));
          continue;
        }
      }
      out.push(this.unkId!);
    }
    return out;
  }
}

/** The code-point index whose UTF-16 offset is `offset` (binary search), -1 if none. */
function indexOfOffset(bounds: number[], offset: number): number {
  let lo = 0;
  let hi = bounds.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = bounds[mid]!;
    if (v === offset) return mid;
    if (v < offset) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** UTF-16 offsets of each code point of s, plus s.length. */
function codePointBounds(s: string): number[] {
  const out: number[] = [];
  let i = 0;
  for (const ch of s) {
    out.push(i);
    i += ch.length;
  }
  out.push(i);
  return out;
}
