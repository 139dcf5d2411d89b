// The README's browser example, as written, runs in Chromium against the bundled browser entry
// and draws the prior of a red wall seen straight on: red in the centre of the canvas.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleForBrowser } from '../../src/cli/browser-bundle.ts';
import { launchChromium, moduleHtml, serveRoutes } from '../helpers/browser.ts';

function readmeExample(): string {
  const readme = readFileSync('README.md', 'utf8');
  const m = /<!-- browser-example -->\s*```js\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no browser-example block');
  return m[1]!;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('README browser example', () => {
  it('renders the wall through the bundle and draws it on a canvas', async () => {
    const example = readmeExample();
    expect(example).toContain("from './egox-browser.js'");
    const lib = await bundleForBrowser('src/browser.ts', { minify: true });
    const server = await serveRoutes({
      '/': { type: 'text/html', body: moduleHtml('/example.js') },
      '/example.js': { type: 'text/javascript', body: example },
      '/egox-browser.js': { type: 'text/javascript', body: lib.code },
    });
    cleanups.push(server.close);
    const browser = await launchChromium();
    cleanups.push(() => browser.close());
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(server.url);
    await page.waitForSelector('canvas', { timeout: 60_000 });
    const px = await page.evaluate(() => {
      const c = (globalThis as unknown as { document: { querySelector: (s: string) => { width: number; getContext: (k: string) => { getImageData: (...a: number[]) => { data: Uint8ClampedArray } } } } }).document.querySelector('canvas');
      const at = (x: number, y: number) => [...c.getContext('2d').getImageData(x, y, 1, 1).data];
      return { width: c.width, centre: at(224, 224), corner: at(2, 2) };
    });
    expect(errors).toEqual([]);
    expect(px.width).toBe(448);
    expect(px.centre).toEqual([220, 60, 60, 255]); // the wall's colour, flat in z-buffer mode
    expect(px.corner).toEqual([0, 0, 0, 255]); // outside the fisheye's view of the wall: black
  });
});
