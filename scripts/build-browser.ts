// `npm run build:browser`: dist/egox-browser.js, the library's browser entry as one ES module.
import * as fs from 'node:fs';
import { bundleForBrowser } from '../src/cli/browser-bundle.ts';

const out = 'dist/egox-browser.js';
const b = await bundleForBrowser('src/browser.ts', { minify: true });
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync(out, b.code);
console.log(`${out}: ${(b.code.length / 1024).toFixed(0)} KiB from ${b.inputs.length} source files`);
