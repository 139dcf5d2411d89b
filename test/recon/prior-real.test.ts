// The renderer on the real example data: both shared Ego-Exo4D takes rendered with the default
// settings (motion masks estimated from the clip) and --ego-calibration 216,226,225, compared with
// the shipped official ego_Prior.mp4. CI renders every 4th frame (13 of 49) to stay within a few
// minutes on lavapipe; bench/prior-quality.ts runs all 49 and writes the side-by-side figures.
import { describe, expect, it } from 'vitest';
import { useDevice } from '../helpers/gpu.ts';
import { decodeVideo } from '../../src/io/video.ts';
import { loadEgoxTake } from '../../src/io/meta.ts';
import { parseEgoCalibration } from '../../src/recon/cameras.ts';
import { renderPrior } from '../../src/pipeline/prior.ts';
import { comparePriors } from '../../src/recon/prior-quality.ts';

const device = useDevice();
const META = '../shared/data/egoexo4d/meta.json';
const FRAMES = Array.from({ length: 13 }, (_, i) => 4 * i);

describe('ego prior vs the official renderer on the shared takes', () => {
  for (const name of ['cmu_soccer06_6_877_925', 'iiith_cooking_57_2_2451_2499']) {
    it(`${name}: PSNR >= 16.5 dB and coverage IoU >= 0.74 with the default settings`, async () => {
      const dev = await device();
      const take = loadEgoxTake(META, name);
      const official = (await decodeVideo(take.egoPriorPath, { maxFrames: 49 })).frames;
      const r = await renderPrior(dev, take, { egoCalibration: parseEgoCalibration('216,226,225'), frameIndices: FRAMES });
      expect(r.dynamicSource).toBe('estimated');
      expect(r.frames.every((f) => f.length === 448 * 448 * 3)).toBe(true);
      const cmp = comparePriors(r.frames, official, r.frameIndices);
      console.log(`${name}: PSNR ${cmp.meanPsnr.toFixed(2)} dB, IoU ${cmp.meanIoU.toFixed(3)} over frames ${FRAMES.join(',')}; ` +
        `${r.pointsPerFrame[0]} points/frame, ${r.msPerFrame.toFixed(0)} ms/frame, setup ${(r.setupMs / 1000).toFixed(1)} s`);
      expect(cmp.meanPsnr).toBeGreaterThanOrEqual(16.5);
      expect(cmp.meanIoU).toBeGreaterThanOrEqual(0.74);
    }, 300_000);
  }
});
