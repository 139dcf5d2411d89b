#!/usr/bin/env node
// Launches the TypeScript CLI through tsx in a child process so that the native noise
// Dawn and lavapipe print on stderr (limit warnings, XDG_RUNTIME_DIR) can be filtered out;
// everything else, exit codes and signals pass through unchanged.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

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
let pending = '';
child.stderr.on('data', (chunk) => {
  pending += chunk.toString();
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) if (!NOISE.some((re) => re.test(line))) process.stderr.write(line + '\n');
});
// The child gets the terminal's SIGINT itself and cleans up; wait for it.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => {
  if (pending && !NOISE.some((re) => re.test(pending))) process.stderr.write(pending);
  process.exit(code ?? (signal ? 130 : 1));
});
