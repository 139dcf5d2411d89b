// Draws generate progress events: a bar on a TTY, plain lines otherwise, JSON lines with
// --json (on stdout, one object per line), nothing with --quiet.
import { STAGE_TITLES, type ProgressEvent } from '../pipeline/progress.ts';

export type ProgressMode = 'tty' | 'plain' | 'json' | 'quiet';

export function progressMode(o: { json?: boolean; quiet?: boolean }): ProgressMode {
  if (o.quiet) return 'quiet';
  if (o.json) return 'json';
  return process.stderr.isTTY ? 'tty' : 'plain';
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function bar(done: number, total: number, width = 24): string {
  const fill = Math.round((done / Math.max(total, 1)) * width);
  return '[' + '#'.repeat(fill) + '.'.repeat(width - fill) + ']';
}

/** A progress callback for the mode; `write` defaults to stderr (stdout for json). */
export function progressReporter(mode: ProgressMode, write?: (s: string) => void): (e: ProgressEvent) => void {
  if (mode === 'quiet') return () => {};
  if (mode === 'json') {
    const out = write ?? ((s: string) => process.stdout.write(s));
    return (e) => out(JSON.stringify({ event: e.type, ...e, type: undefined }) + '\n');
  }
  const out = write ?? ((s: string) => process.stderr.write(s));
  let open = false; // a TTY line waiting for its end
  return (e) => {
    const title = STAGE_TITLES[e.stage];
    if (e.type === 'stage') {
      if (open) out('\n');
      open = false;
      out(`${title}: ${e.detail}\n`);
    } else if (e.type === 'tick') {
      const eta = e.done > 0 && e.done < e.total ? `  ETA ${formatDuration(e.etaMs)}` : '';
      if (mode === 'tty') {
        out(`\r  ${bar(e.done, e.total)} ${e.done}/${e.total}  ${formatDuration(e.elapsedMs)}${eta}   `);
        open = true;
      } else if (e.stage === 'denoise' && e.done > 0 && (e.done === e.total || e.done % Math.max(1, Math.floor(e.total / 10)) === 0)) {
        // Logs get about ten lines per run, not one per step.
        out(`  ${title} step ${e.done}/${e.total}, ${formatDuration(e.elapsedMs)}${eta}\n`);
      }
    } else {
      if (open) out('\n');
      open = false;
      out(`  done in ${formatDuration(e.ms)}\n`);
    }
  };
}
