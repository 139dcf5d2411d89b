/**
 * JSON.parse silently keeps the last of duplicate object keys. A safetensors header with two
 * entries for one tensor name is ambiguous (which bytes are the weight?), so we scan the text.
 * Call only on text JSON.parse has accepted: the scanner relies on it being valid.
 */

export interface DuplicateKey {
  /** The repeated key. */
  key: string;
  /** The top-level key whose value holds the duplicate; undefined when the duplicate is top-level. */
  inside: string | undefined;
}

interface ObjFrame { obj: true; keys: Set<string>; expectKey: boolean }
interface ArrFrame { obj: false }

export function findDuplicateKey(text: string): DuplicateKey | undefined {
  const stack: Array<ObjFrame | ArrFrame> = [];
  let topKey: string | undefined; // the current key of the outermost object
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
      const top = stack[stack.length - 1];
      if (top?.obj && top.expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (top.keys.has(key)) return { key, inside: stack.length === 1 ? undefined : topKey };
        top.keys.add(key);
        top.expectKey = false;
        if (stack.length === 1) topKey = key;
      }
    } else if (c === 0x7b /* { */) {
      stack.push({ obj: true, keys: new Set(), expectKey: true });
    } else if (c === 0x5b /* [ */) {
      stack.push({ obj: false });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.obj) top.expectKey = true;
    }
  }
  return undefined;
}
