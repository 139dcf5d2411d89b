// Debian's Chromium (never a downloaded browser) driven by puppeteer-core, headless with WebGPU
// (on a machine without a GPU that is Chromium's own Dawn on SwiftShader), and a throwaway
// server on 127.0.0.1 (a secure context, so navigator.gpu exists). No vitest here: benchmarks
// use it too.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import puppeteer, { type Browser } from 'puppeteer-core';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium; .ci/run does)`);
  const args = ['--enable-unsafe-webgpu', '--headless=new'];
  if (process.getuid?.() === 0) args.push('--no-sandbox'); // Chromium refuses to sandbox as root
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args });
}

export interface Route {
  type: string;
  body: string | Uint8Array;
}

/** Serves fixed routes on 127.0.0.1; returns the base URL and a close function. */
export async function serveRoutes(routes: Record<string, Route>): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const r = routes[new URL(req.url ?? '/', 'http://x').pathname];
    if (!r) {
      res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end();
      return;
    }
    res.writeHead(200, { 'content-type': r.type }).end(r.body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((ok) => server.close(() => ok())) };
}

export const moduleHtml = (src: string) => `<!doctype html><meta charset="utf-8"><body><script type="module" src="${src}"></script></body>`;
