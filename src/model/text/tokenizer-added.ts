/**
 * The 'added_tokens' of tokenizer.json (<pad>, </s>, <unk>, <extra_id_N>...): found in the text
 * before the model sees it, leftmost first and longest at a position, and emitted as their ids.
 * Tokens with normalized=false are matched on the raw text; normalized=true ones on the normalized
 * text (their content normalized too). lstrip / rstrip make a match swallow the whitespace beside it.
 * single_word=true is not supported (refused by name).
 */
import { JsonFields, TokenizerFileError } from './tokenizer-errors.ts';
import { RUST_WHITESPACE } from './tokenizer-normalizers.ts';

export interface AddedToken {
  content: string;
  id: number;
  normalized: boolean;
  lstrip: boolean;
  rstrip: boolean;
}

/** A stretch of text, or an added token already resolved to its id. */
export type Chunk = { text: string; start: number } | { id: number };

const WHITESPACE = new RegExp(`^[${RUST_WHITESPACE}]$`, 'u');

export function parseAddedTokens(list: unknown[], source: string, idOfPiece: (piece: string) => number | undefined): AddedToken[] {
  return list.map((entry, i) => {
    const f = JsonFields.of(source, `added_tokens[${i}]`, entry);
    const content = f.string('content');
    if (content === '') f.fail('content', 'is empty');
    if (f.bool('single_word', false)) f.fail('single_word', 'true is not supported by egox');
    // the model's own id wins, as in HF; a token outside the vocabulary keeps the file's id
    const id = idOfPiece(content) ?? f.int('id');
    return {
      content,
      id,
      normalized: f.bool('normalized', true),
      lstrip: f.bool('lstrip', false),
      rstrip: f.bool('rstrip', false),
    };
  });
}

/**
 * Splits `text` around the given tokens. Text chunks carry their start offset (UTF-16) in `text`.
 */
export function splitAddedTokens(text: string, tokens: readonly AddedToken[]): Chunk[] {
  if (tokens.length === 0 || text === '') return text === '' ? [] : [{ text, start: 0 }];
  const out: Chunk[] = [];
  let last = 0;
  let i = 0;
  while (i < text.length) {
    let best: AddedToken | undefined;
    for (const t of tokens) {
      if ((best === undefined || t.content.length > best.content.length) && text.startsWith(t.content, i)) best = t;
    }
    if (best === undefined) {
      i++;
      continue;
    }
    let start = i;
    let end = i + best.content.length;
    if (best.lstrip) while (start > last && isWhitespaceBefore(text, start)) start -= charLengthBefore(text, start);
    if (best.rstrip) while (end < text.length && isWhitespaceAt(text, end)) end += charLengthAt(text, end);
    if (start > last) out.push({ text: text.slice(last, start), start: last });
    out.push({ id: best.id });
    last = i = end;
  }
  if (last < text.length) out.push({ text: text.slice(last), start: last });
  return out;
}

function charLengthAt(s: string, i: number): number {
  return s.codePointAt(i)! > 0xffff ? 2 : 1;
}

function charLengthBefore(s: string, i: number): number {
  const low = s.charCodeAt(i - 1);
  return i >= 2 && low >= 0xdc00 && low <= 0xdfff ? 2 : 1;
}

function isWhitespaceAt(s: string, i: number): boolean {
  return WHITESPACE.test(String.fromCodePoint(s.codePointAt(i)!));
}

function isWhitespaceBefore(s: string, i: number): boolean {
  return WHITESPACE.test(s.slice(i - charLengthBefore(s, i), i));
}

/** Refuses a token listed twice with different ids (HF would keep one of them silently). */
export function checkAddedIds(tokens: readonly AddedToken[], source: string): void {
  const seen = new Map<string, number>();
  for (const t of tokens) {
    const prev = seen.get(t.content);
    if (prev !== undefined && prev !== t.id) {
      throw new TokenizerFileError(source, 'added_tokens', `'${t.content}' is listed twice with ids ${prev} and ${t.id}`);
    }
    seen.set(t.content, t.id);
  }
}
