#!/usr/bin/env node
// Launches the TypeScript CLI through tsx in a child process so that the native noise
// Dawn and lavapipe print on stderr (limit warnings, XDG_RUNTIME_DIR) can be filtered out;
// everything else, exit codes and signals pass through unchanged.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import os from 'node:os';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsx = createRequire(import.meta.url).resolve('tsx');
const env = { ...process.env };
if (!env.XDG_RUNTIME_DIR) env.XDG_RUNTIME_DIR = '/tmp';

const NOISE = [
  /^Warning: max\w+ artificially reduced/,
  /XDG_RUNTIME_DIR/,
  /^MESA: warning/,
  /^WARNING: lavapipe is not a conformant vulkan implementation/,
  // Vulkan loader chatter when no driver is installed (egox then prints its own one-line fix).
  /^Warning: (loader_\w+|vkCreateInstance)/,
  /^\s+at CheckVkSuccessImpl/,
  /^$/,
];

const child = spawn(process.execPath, ['--import', tsx, join(root, 'src/cli/main.ts'), ...process.argv.slice(2)], {
  stdio: ['inherit', 'inherit', 'pipe'],
  env,
});
// V8's out-of-memory report is a screenful (GC trace, JS stack); the user gets one line instead.
const V8_OOM = /^FATAL ERROR: .*(heap out of memory|Allocation failed)/;
const V8_DUMP = /^(<--- (Last few GCs|JS stacktrace) --->|\s*\[\d+:0x[0-9a-f]+\]|\s*\d+: 0x[0-9a-f]+ |----- Native stack trace -----|Security context:|\s*$)/;
let outOfMemory = false;
let pending = '';
const emit = (line) => {
  if (V8_OOM.test(line)) outOfMemory = true;
  if (outOfMemory || V8_DUMP.test(line) || NOISE.some((re) => re.test(line))) return;
  process.stderr.write(line + '\n');
};
child.stderr.on('data', (chunk) => {
  pending += chunk.toString();
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) emit(line);
});
// The child gets the terminal's SIGINT itself and cleans up; wait for it. Remember which
// signal the user sent: only a real interrupt may be reported as one (exit 130).
let interrupt;
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => ((interrupt = sig), child.kill(sig)));
child.on('exit', (code, signal) => {
  if (pending) emit(pending);
  if (outOfMemory) {
    process.stderr.write('egox: out of memory: the JavaScript heap is full (raise it with NODE_OPTIONS=--max-old-space-size=MB, or use a smaller input)\n');
    process.exit(code === 0 || code === null ? 1 : code);
  }
  if (code !== null) process.exit(code);
  if (signal === interrupt) process.exit(signal === 'SIGINT' ? 130 : 143);
  const hint = signal === 'SIGKILL' ? ' (the system may have run out of memory)' : '';
  process.stderr.write(`egox: the process was killed by ${signal}${hint}\n`);
  process.exit(128 + (os.constants.signals[signal] ?? 0));
});
