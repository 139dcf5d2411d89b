// Prior preview frame time in the studio page (Chromium's WebGPU: SwiftShader here) and under
// Node (Dawn: lavapipe here) for the shared takes, and the time from opening the page to its
// first rendered frame. `npx tsx bench/studio-preview.ts` prints markdown rows for
// bench/RESULTS.md. The page is served read-only from the shared data (nothing is saved).
import { loadEgoxTake } from '../src/io/meta.ts';
import { renderPrior } from '../src/pipeline/prior.ts';
import { openNodeDevice } from '../src/runtime/node.ts';
import { StudioFolder } from '../src/cli/studio/folder.ts';
import { startStudioServer } from '../src/cli/studio/server.ts';
import { studioPage } from '../src/cli/studio.ts';
import { launchChromium } from '../test/helpers/chromium.ts';

const META = '../shared/data/egoexo4d/meta.json';
const TAKES = ['cmu_soccer06_6_877_925', 'iiith_cooking_57_2_2451_2499'];
const FRAMES = Array.from({ length: 9 }, (_, i) => i * 6);
type Mode = 'zbuffer' | 'composite';

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

interface PageHandle {
  settled: () => Promise<void>;
  setFrame: (f: number) => void;
  mode: Mode;
  redraw: () => void;
  stats: { firstFrameMs?: number; priorMs: number[] };
}

async function inPage(take: string): Promise<{ openMs: number; pageFirstMs: number; ms: Record<Mode, number> }> {
  const server = await startStudioServer({ folder: StudioFolder.open(META), take, token: 'bench', ...(await studioPage()), openDevice: () => Promise.reject(new Error('no saving in the benchmark')) });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const t0 = Date.now();
    await page.goto(server.url);
    const h = await page.evaluateHandle(() => (window as unknown as { egoxStudio: { ready: Promise<PageHandle> } }).egoxStudio.ready);
    await h.evaluate((s) => s.settled());
    const openMs = Date.now() - t0;
    const pageFirstMs = (await h.evaluate((s) => s.stats.firstFrameMs))!;
    const ms = {} as Record<Mode, number>;
    for (const mode of ['zbuffer', 'composite'] as const) {
      const times = await h.evaluate(
        async (s, mode, frames) => {
          s.mode = mode;
          s.setFrame(frames[frames.length - 1]!); // warm-up (pipelines of the mode)
          await s.settled();
          s.stats.priorMs.length = 0;
          for (const f of frames) {
            s.setFrame(f);
            await s.settled();
          }
          return s.stats.priorMs;
        },
        mode,
        FRAMES,
      );
      ms[mode] = median(times);
    }
    return { openMs, pageFirstMs, ms };
  } finally {
    await browser.close();
    await server.close();
  }
}

async function underNode(take: string): Promise<Record<Mode, number>> {
  const dev = await openNodeDevice();
  try {
    const t = loadEgoxTake(META, take);
    const out = {} as Record<Mode, number>;
    for (const mode of ['zbuffer', 'composite'] as const) {
      await renderPrior(dev, t, { frameIndices: [FRAMES[0]!], mode }); // warm-up (pipelines)
      out[mode] = (await renderPrior(dev, t, { frameIndices: FRAMES, mode })).msPerFrame;
    }
    return out;
  } finally {
    dev.destroy();
  }
}

console.log('| take | page: open to first frame | preview (z-buffer), page / Node | full (compositing), page / Node |');
console.log('|---|---:|---:|---:|');
for (const take of TAKES) {
  const page = await inPage(take);
  const node = await underNode(take);
  const f = (x: number) => `${x.toFixed(0)} ms`;
  console.log(`| ${take} | ${(page.openMs / 1000).toFixed(1)} s (page clock ${(page.pageFirstMs / 1000).toFixed(1)} s) | ${f(page.ms.zbuffer)} / ${f(node.zbuffer)} | ${f(page.ms.composite)} / ${f(node.composite)} |`);
}
process.exit(0);
