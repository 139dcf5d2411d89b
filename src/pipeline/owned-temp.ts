// Temporary names in --out that say which process made them (host and pid), so a later run
// can remove what a killed one left behind without touching the live temporaries of another
// process, on this host or (on a shared output volume) on another.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** `<prefix><host>-<pid>-<time>`: unique per process and call. */
export function ownedTempName(prefix: string): string {
  return `${prefix}${os.hostname()}-${process.pid}-${Date.now().toString(36)}${(counter++).toString(36)}`;
}
let counter = 0;

/**
 * A temporary of another host is only known to be dead by its age: nothing of a run stays
 * untouched this long (a stage lives while one take's files are written).
 */
export const FOREIGN_TEMP_MAX_AGE_MS = 6 * 3600_000;

/**
 * Removes entries of `dir` starting with one of `prefixes` whose process on this host is gone,
 * and those of other hosts (a rescheduled pod has a new name) unchanged for FOREIGN_TEMP_MAX_AGE_MS.
 */
export function removeStaleTemps(dir: string, prefixes: string[]): string[] {
  if (!fs.existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    const prefix = prefixes.find((p) => name.startsWith(p));
    if (!prefix) continue;
    const m = /^(.*)-(\d+)-[0-9a-z]+$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const p = path.join(dir, name);
    const dead = m[1] === os.hostname() ? !processAlive(Number(m[2])) : Date.now() - fs.statSync(p).mtimeMs > FOREIGN_TEMP_MAX_AGE_MS;
    if (!dead) continue;
    fs.rmSync(p, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
