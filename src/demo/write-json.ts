// File helpers shared by the demo's weight writers.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Writes pretty JSON, creating the folder. */
export function writeJson(file: string, obj: object): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(obj, null, 2) + '\n');
}
