// The module specifiers a TypeScript source names (static, re-export, side-effect and dynamic
// imports), for tests that check which layer may import which.
import * as fs from 'node:fs';
import * as path from 'node:path';

const SPECIFIER = [
  /\bfrom\s*['"]([^'"]+)['"]/g, // import x from '...', export { x } from '...' (also across lines)
  /\bimport\s*['"]([^'"]+)['"]/g, // import '...'
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, // import('...')
];

export function importSpecifiers(source: string): string[] {
  return SPECIFIER.flatMap((re) => [...source.matchAll(re)].map((m) => m[1]!));
}

/** Every .ts file under `dir`, recursively. */
export function tsFilesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Relative imports of `file` that resolve inside `target` (a folder). */
export function importsInto(file: string, source: string, target: string): string[] {
  const root = path.resolve(target) + path.sep;
  return importSpecifiers(source).filter((s) => s.startsWith('.') && (path.resolve(path.dirname(file), s) + path.sep).startsWith(root));
}
