// Writing a take's outputs: every file goes into a staging folder inside --out and moves into
// place only when all are written (staging.ts), so a failed or interrupted take leaves nothing.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { decodeVideo, encodeVideo } from '../io/video.ts';
import { encodePng } from '../io/png.ts';
import { contactSheet, sheetFrames } from './contact-sheet.ts';
import { hconcat } from './frames.ts';
import type { CheckedInputs } from './generate-inputs.ts';
import { OutputStage } from './staging.ts';
import { allOutputs, outputNames, pngName } from './output-names.ts';

export const OUTPUT_FPS = 30;

/**
 * Whether --out already holds every output of `take` from a run with these settings (the
 * take's JSON, moved last by the stage, names the seed, steps, guidance, GGA, frames and size).
 */
export function outputsComplete(inp: Pick<CheckedInputs, 'options'>, take: string): boolean {
  const opt = inp.options;
  const n = outputNames(take);
  if (!allOutputs(take, opt).every((f) => existsSync(path.join(opt.out, f)))) return false;
  try {
    const j = JSON.parse(readFileSync(path.join(opt.out, n.summary), 'utf8'));
    return j.seed === opt.seed && j.steps === opt.steps && j.guidance === opt.guidance && j.ggaLambda === opt.ggaLambda && j.frames === opt.frames && j.size?.ego?.[0] === opt.size;
  } catch {
    return false;
  }
}

export interface RunFrames {
  exoIn: Uint8Array[];
  prior: Uint8Array[];
  exoOut: Uint8Array[];
  egoOut: Uint8Array[];
}

/** Writes every output into a staging folder and moves them into --out when all succeeded. */
export async function writeOutputs(inp: CheckedInputs, fr: RunFrames): Promise<{ files: string[]; video: string; egoVideo: string; contactSheet: string }> {
  const { options: opt, take, sizes } = inp;
  const S = sizes.ego;
  const XW = sizes.exo.width;
  const stage = OutputStage.open(opt.out);
  try {
    const names = outputNames(take.name);
    const side = fr.egoOut.map((ego, i) => hconcat([{ width: XW, height: S, rgb: fr.exoOut[i]! }, { width: S, height: S, rgb: ego }]).rgb);
    await encodeVideo(stage.path(names.video), side, { width: XW + S, height: S, fps: OUTPUT_FPS });
    await encodeVideo(stage.path(names.ego), fr.egoOut, { width: S, height: S, fps: OUTPUT_FPS });
    if (opt.renderPrior) await encodeVideo(stage.path(names.prior), fr.prior, { width: S, height: S, fps: OUTPUT_FPS });
    if (opt.png) {
      fr.egoOut.forEach((rgb, i) => writeFileSync(stage.path(pngName(take.name, i)), encodePng(S, S, 3, rgb)));
    }
    const columns = [
      { label: 'exo', width: XW, height: S, frames: fr.exoIn },
      { label: 'ego prior', width: S, height: S, frames: fr.prior },
      { label: 'generated', width: S, height: S, frames: fr.egoOut },
    ];
    if (inp.gtVideo && take.egoGtPath) {
      const gt = await decodeVideo(take.egoGtPath, { width: S, height: S, maxFrames: opt.frames }).catch(() => null);
      if (gt) columns.push({ label: 'ground truth', width: S, height: S, frames: gt.frames });
    }
    const sheet = contactSheet(columns, sheetFrames(fr.egoOut.length, opt.sheetFrames), Math.min(S, 224));
    writeFileSync(stage.path(names.sheet), encodePng(sheet.width, sheet.height, 3, sheet.rgb));
    const summary = {
      take: take.name,
      meta: take.metaPath,
      model: opt.model ?? inp.model.transformer,
      layout: inp.model.layout,
      lora: opt.lora === undefined ? null : typeof opt.lora === 'string' ? opt.lora : opt.lora.map((a) => `${a.file}:${a.strength ?? opt.loraStrength}`).join(' + '),
      prompt: opt.promptEmbeds ? { embeddings: opt.promptEmbeds } : { text: opt.prompt ?? take.prompt, negative: opt.negativePrompt },
      steps: opt.steps,
      guidance: opt.guidance,
      seed: opt.seed,
      ggaLambda: opt.ggaLambda,
      frames: opt.frames,
      size: { ego: [S, S], exo: [XW, S] },
      scheduler: inp.model.scheduler,
      prior: opt.renderPrior ? 'rendered by egox' : take.egoPriorPath,
      contactSheetColumns: columns.map((c) => c.label),
      fps: OUTPUT_FPS,
    };
    writeFileSync(stage.path(names.summary), JSON.stringify(summary, null, 2) + '\n');
    const files = stage.commit();
    const find = (n: string) => files.find((f) => f.endsWith(n))!;
    return { files, video: find(names.video), egoVideo: find(names.ego), contactSheet: find(names.sheet) };
  } catch (e) {
    stage.abort();
    throw e;
  }
}
