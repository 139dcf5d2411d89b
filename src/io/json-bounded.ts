/**
 * JSON from files users hand us (safetensors headers, configs, tokenizer.json, meta.json) is
 * untrusted: arrays nested 20,000 deep parse fine but overflow the stack of any recursive walk
 * or message builder that follows. Every such text goes through parseJsonBounded, which refuses
 * deep nesting in one linear pass before parsing, and every value quoted in a message goes
 * through jsonBrief, which never recurses more than a few levels nor prints more than a line.
 */

/** Deeper than any real config or header (they nest 3-6 levels; tokenizer.json about 8). */
export const MAX_JSON_DEPTH = 64;

/**
 * JSON.parse after a linear depth check. Throws a SyntaxError whose message is one line: V8 quotes
 * the text around a syntax error, newlines included, and callers put that message in theirs.
 */
export function parseJsonBounded(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  const depth = nestingDepth(text, maxDepth);
  if (depth > maxDepth) throw new SyntaxError(`JSON nested deeper than ${maxDepth} levels`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(String((e as Error).message).replace(/\s+/g, ' ').slice(0, 200));
  }
}

/** Bracket depth outside strings, stopping as soon as it exceeds `stopAt`. */
function nestingDepth(text: string, stopAt: number): number {
  let depth = 0;
  let max = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max && (max = depth) > stopAt) return max;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return max;
}

/** A short rendering of any value for an error message: at most `max` characters, bounded depth. */
export function jsonBrief(v: unknown, max = 60): string {
  const s = brief(v, 2);
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

function brief(v: unknown, depth: number): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (typeof v === 'bigint') return `${v}`;
  if (Array.isArray(v)) {
    if (depth === 0) return `[...${v.length} items]`;
    const head = v.slice(0, 6).map((x) => brief(x, depth - 1));
    return `[${head.join(', ')}${v.length > 6 ? ', ...' : ''}]`;
  }
  if (typeof v === 'object') {
    if (depth === 0) return '{...}';
    const keys = Object.keys(v as object);
    const head = keys.slice(0, 4).map((k) => `${JSON.stringify(k.slice(0, 30))}: ${brief((v as Record<string, unknown>)[k], depth - 1)}`);
    return `{${head.join(', ')}${keys.length > 4 ? ', ...' : ''}}`;
  }
  return typeof v;
}
