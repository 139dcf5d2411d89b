/** A tokenizer.json given by the user is malformed or uses a feature egox does not implement. */
import { InputError } from '../../runtime/errors.ts';
export class TokenizerFileError extends InputError {
  /** The file (or label) the tokenizer came from. */
  readonly source: string;
  /** The JSON path concerned, e.g. 'normalizer.normalizers[0].type'. */
  readonly field: string;

  constructor(source: string, field: string, problem: string) {
    super(`${source}: ${field}: ${problem}`.replace(/\s*\n\s*/g, ' '));
    this.source = source;
    this.field = field;
  }
}

/** Reads JSON fields with errors that name the file and the field. */
export class JsonFields {
  constructor(
    readonly source: string,
    readonly path: string,
    readonly value: Record<string, unknown>,
  ) {}

  static of(source: string, path: string, value: unknown): JsonFields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TokenizerFileError(source, path, `must be a JSON object, found ${describe(value)}`);
    }
    return new JsonFields(source, path, value as Record<string, unknown>);
  }

  fail(key: string, problem: string): never {
    throw new TokenizerFileError(this.source, this.at(key), problem);
  }

  at(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  has(key: string): boolean {
    return this.value[key] !== undefined && this.value[key] !== null;
  }

  string(key: string): string {
    const v = this.value[key];
    if (typeof v !== 'string') this.fail(key, `must be a string, found ${describe(v)}`);
    return v;
  }

  optString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : undefined;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.value[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, found ${describe(v)}`);
    return v;
  }

  int(key: string): number {
    const v = this.value[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      this.fail(key, `must be a non-negative integer, found ${describe(v)}`);
    }
    return v;
  }

  array(key: string): unknown[] {
    const v = this.value[key];
    if (!Array.isArray(v)) this.fail(key, `must be a JSON array, found ${describe(v)}`);
    return v;
  }

  object(key: string): JsonFields {
    return JsonFields.of(this.source, this.at(key), this.value[key]);
  }

  /** The 'type' tag of a component, checked against what egox supports. */
  type(supported: readonly string[], what: string): string {
    const t = this.string('type');
    if (!supported.includes(t)) {
      this.fail('type', `${what} '${t}' is not supported by egox (supported: ${supported.join(', ')})`);
    }
    return t;
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `"${v.length > 40 ? v.slice(0, 40) + '…' : v}"`;
  return typeof v === 'object' ? 'an object' : String(v);
}
