/**
 * Tokenizer for a Hugging Face tokenizer.json with a SentencePiece unigram model (umT5's), doing
 * what `tokenizer(prompt, padding="max_length", max_length=512, truncation=True,
 * add_special_tokens=True)` does in the diffusers Wan pipelines:
 *   added tokens split off -> normalizer -> Metaspace -> unigram Viterbi (+ byte fallback)
 *   -> truncation to max length minus the special tokens -> template (umT5: "$A </s>")
 *   -> right padding with the pad id and an attention mask.
 * The file's own 'truncation' and 'padding' settings are ignored: the caller's options rule, as
 * they do in transformers. Reading the file is the caller's job (src/model also runs in browsers).
 *
 * Supported: normalizers Sequence/Precompiled/Replace/Strip/NF(K)C/NF(K)D/Lowercase/Prepend,
 * pre-tokenizer Metaspace (or a Sequence of them), model Unigram, post-processor
 * TemplateProcessing or none. Anything else is refused with a TokenizerFileError naming the field.
 */
import { parseJsonBounded } from '../../io/json-bounded.ts';
import { checkAddedIds, parseAddedTokens, splitAddedTokens, type AddedToken } from './tokenizer-added.ts';
import { JsonFields, TokenizerFileError } from './tokenizer-errors.ts';
import { buildNormalizer, type Normalizer } from './tokenizer-normalizers.ts';
import { buildPreTokenizer, type PreTokenizer } from './tokenizer-pretokenizer.ts';
import { UnigramModel } from './tokenizer-unigram.ts';
import { cleanPrompt } from './prompt-clean.ts';

export { TokenizerFileError } from './tokenizer-errors.ts';

/** The prompt length of the Wan pipelines (max_sequence_length). */
export const UMT5_MAX_LENGTH = 512;

export interface EncodeOptions {
  /** Length to truncate and pad to; default 512. */
  maxLength?: number;
  /** Pad on the right up to maxLength; default true. */
  padding?: boolean;
  /** Cut the text's tokens so that they and the special tokens fit maxLength; default true. */
  truncation?: boolean;
  /** Add the post-processor's special tokens (umT5: a final </s>); default true. */
  addSpecialTokens?: boolean;
  /** Pad id; default the id of '<pad>', or 0 when the vocabulary has none. */
  padId?: number;
}

export interface Encoding {
  /** Token ids, then padding. */
  ids: Int32Array;
  /** 1 for a real token, 0 for padding. */
  attentionMask: Uint8Array;
  /** Number of real tokens (the mask's sum), the count the text encoder's output is cut to. */
  length: number;
}

interface Template {
  before: number[];
  after: number[];
}

export class UnigramTokenizer {
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer | null;
  private readonly model: UnigramModel;
  private readonly rawAdded: AddedToken[];
  private readonly normalizedAdded: AddedToken[];
  private readonly addedById = new Map<number, string>();
  private readonly addedByContent = new Map<string, number>();
  private readonly template: Template;
  /** Where the tokenizer came from, for messages. */
  readonly source: string;

  private constructor(json: unknown, source: string) {
    this.source = source;
    const root = JsonFields.of(source, '', json);
    const model = root.object('model');
    model.type(['Unigram'], 'model');
    this.model = UnigramModel.fromJson(model);
    this.normalizer = buildNormalizer(root.value.normalizer, source);
    this.preTokenizer = buildPreTokenizer(root.value.pre_tokenizer, source);
    const added = root.has('added_tokens') ? parseAddedTokens(root.array('added_tokens'), source, (p) => this.model.idOf(p)) : [];
    checkAddedIds(added, source);
    for (const t of added) {
      this.addedById.set(t.id, t.content);
      this.addedByContent.set(t.content, t.id);
    }
    this.rawAdded = added.filter((t) => !t.normalized);
    // normalized tokens are looked for in normalized text, so their content is normalized too
    this.normalizedAdded = added
      .filter((t) => t.normalized)
      .map((t) => ({ ...t, content: this.normalizer ? this.normalizer(t.content).text : t.content }))
      .filter((t) => t.content !== '');
    this.template = this.parseTemplate(root.value.post_processor);
  }

  /** Builds a tokenizer from the text of a tokenizer.json; `source` names it in errors. */
  static fromJsonText(text: string, source: string): UnigramTokenizer {
    let json: unknown;
    try {
      json = parseJsonBounded(text);
    } catch (e) {
      throw new TokenizerFileError(source, '(file)', `is not valid JSON (${(e as Error).message})`);
    }
    return new UnigramTokenizer(json, source);
  }

  /** Builds a tokenizer from a parsed tokenizer.json. */
  static fromJson(json: unknown, source: string): UnigramTokenizer {
    return new UnigramTokenizer(json, source);
  }

  /** Number of ids: the model's pieces and the added tokens outside them. */
  get vocabSize(): number {
    let n = this.model.size;
    for (const id of this.addedById.keys()) n = Math.max(n, id + 1);
    return n;
  }

  tokenToId(token: string): number | undefined {
    return this.model.idOf(token) ?? this.addedByContent.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.model.pieceOf(id) ?? this.addedById.get(id);
  }

  /** Ids of the text alone: no special tokens, no truncation, no padding. */
  tokenize(text: string): number[] {
    const ids: number[] = [];
    for (const raw of splitAddedTokens(text, this.rawAdded)) {
      if ('id' in raw) {
        ids.push(raw.id);
        continue;
      }
      const { text: normalized, keptStart } = this.normalizer ? this.normalizer(raw.text) : { text: raw.text, keptStart: true };
      for (const part of splitAddedTokens(normalized, this.normalizedAdded)) {
        if ('id' in part) {
          ids.push(part.id);
          continue;
        }
        const startsText = raw.start === 0 && part.start === 0 && keptStart;
        const words = this.preTokenizer ? this.preTokenizer(part.text, startsText) : [part.text];
        for (const w of words) ids.push(...this.model.tokenize(w));
      }
    }
    return ids;
  }

  /** Ids, attention mask and true length, as the Wan pipelines tokenize a prompt. */
  encode(text: string, options: EncodeOptions = {}): Encoding {
    const maxLength = options.maxLength ?? UMT5_MAX_LENGTH;
    if (!Number.isSafeInteger(maxLength) || maxLength < 1) {
      throw new RangeError(`tokenizer: maxLength must be a positive integer, got ${maxLength}`);
    }
    const special = options.addSpecialTokens ?? true;
    let body = this.tokenize(text);
    const before = special ? this.template.before : [];
    const after = special ? this.template.after : [];
    if (options.truncation ?? true) body = body.slice(0, Math.max(0, maxLength - before.length - after.length));
    const real = [...before, ...body, ...after];
    const total = (options.padding ?? true) ? Math.max(maxLength, real.length) : real.length;
    const ids = new Int32Array(total).fill(options.padId ?? this.tokenToId('<pad>') ?? 0);
    ids.set(real);
    const attentionMask = new Uint8Array(total);
    attentionMask.fill(1, 0, real.length);
    return { ids, attentionMask, length: real.length };
  }

  private parseTemplate(spec: unknown): Template {
    if (spec === null || spec === undefined) return { before: [], after: [] };
    const f = JsonFields.of(this.source, 'post_processor', spec);
    f.type(['TemplateProcessing'], 'post_processor');
    const specials = f.object('special_tokens');
    const template: Template = { before: [], after: [] };
    let seenText = false;
    f.array('single').forEach((item, i) => {
      const it = JsonFields.of(this.source, `${f.at('single')}[${i}]`, item);
      if (it.has('Sequence')) {
        const seq = it.object('Sequence').string('id');
        if (seq !== 'A') it.fail('Sequence', `a single-text template can only hold sequence 'A', found '${seq}'`);
        seenText = true;
        return;
      }
      if (!it.has('SpecialToken')) throw new TokenizerFileError(this.source, it.path, "must hold 'Sequence' or 'SpecialToken'");
      const name = it.object('SpecialToken').string('id');
      const entry = specials.object(name);
      const ids = entry.array('ids').map((v, k) => {
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
          throw new TokenizerFileError(this.source, `${entry.at('ids')}[${k}]`, 'must be a non-negative integer');
        }
        return v;
      });
      (seenText ? template.after : template.before).push(...ids);
    });
    return template;
  }
}

/** The prompt cleaned as the Wan pipelines do (see prompt-clean.ts), then encoded. */
export function encodePrompt(tokenizer: UnigramTokenizer, prompt: string, maxLength = UMT5_MAX_LENGTH): Encoding {
  return tokenizer.encode(cleanPrompt(prompt), { maxLength });
}
