// `egox studio DIR`: a local web page for placing a take's ego head trajectory with a few clicks
// and seeing the ego prior rendered live in the browser with egox's own kernels. The server
// (studio/server.ts) binds 127.0.0.1 only, wants the session token printed with the URL, and
// touches nothing outside DIR.
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { InputError } from '../runtime/errors.ts';
import { bundleForBrowser } from './browser-bundle.ts';
import { openCliDevice, withDeviceOptions } from './device-options.ts';
import { runCommand, type GpuOptions } from './run-command.ts';
import { StudioFolder } from './studio/folder.ts';
import { newSessionToken } from './studio/guard.ts';
import { startStudioServer } from './studio/server.ts';

interface StudioCliOptions extends GpuOptions {
  take?: string;
  port: string;
}

class StudioOptionError extends InputError {}

const PAGE_HTML = fileURLToPath(new URL('./studio/page/studio.html', import.meta.url));
const PAGE_SCRIPT = fileURLToPath(new URL('./studio/page/main.ts', import.meta.url));

/** The page's HTML and its script bundled for the browser (no build step: bundled at start). */
export async function studioPage(): Promise<{ html: string; script: string }> {
  return { html: fs.readFileSync(PAGE_HTML, 'utf8'), script: (await bundleForBrowser(PAGE_SCRIPT, { minify: true })).code };
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new StudioOptionError(`--port ${text}: must be a whole number in 0..65535 (0 = any free port)`);
  return n;
}

export function registerStudioCommand(program: Command): void {
  withDeviceOptions(program.command('studio <dir>'))
    .description('a local web page to place the ego head trajectory with a few clicks and see the ego prior live (DIR: a take folder holding meta.json, or a meta.json)')
    .option('--take <name>', 'take to edit when the meta.json holds several')
    .option('--port <n>', 'port on 127.0.0.1 (0 = any free port)', '0')
    .action((dir: string, opts: StudioCliOptions) =>
      runCommand(Boolean(opts.verbose), async () => {
        const port = parsePort(opts.port);
        const folder = StudioFolder.open(dir);
        const token = newSessionToken();
        const page = await studioPage();
        const server = await startStudioServer({
          folder,
          take: opts.take,
          token,
          port,
          ...page,
          openDevice: () => openCliDevice(opts),
          log: (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(`egox studio: ${folder.root}\nopen ${server.url}\n(only this URL works: it carries the session token; Ctrl-C stops the server)\n`);
        await new Promise<void>((ok) => {
          process.once('SIGINT', ok);
          process.once('SIGTERM', ok);
        });
        await server.close();
      }),
    );
}
