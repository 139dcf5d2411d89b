// A bundled test page in Chromium, opened once per test file (vitest hooks; see chromium.ts).
import type { Browser, Page } from 'puppeteer-core';
import { afterAll } from 'vitest';
import { bundleForBrowser } from '../../src/cli/browser-bundle.ts';
import { launchChromium, moduleHtml, serveRoutes } from './chromium.ts';

export { launchChromium, moduleHtml, serveRoutes } from './chromium.ts';

/**
 * A page running `entry` (bundled for the browser) in Chromium, opened once per test file and
 * closed after it. Page errors and console errors are collected in `errors`.
 */
export function useBundledPage(entry: string): () => Promise<{ page: Page; errors: string[] }> {
  let opened: Promise<{ page: Page; errors: string[]; browser: Browser; close: () => Promise<void> }> | undefined;
  afterAll(async () => {
    if (!opened) return;
    const o = await opened;
    await o.browser.close();
    await o.close();
  });
  return () =>
    (opened ??= (async () => {
      const bundle = await bundleForBrowser(entry);
      const server = await serveRoutes({ '/': { type: 'text/html', body: moduleHtml('/page.js') }, '/page.js': { type: 'text/javascript', body: bundle.code } });
      const browser = await launchChromium();
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(server.url);
      return { page, errors, browser, close: server.close };
    })());
}
