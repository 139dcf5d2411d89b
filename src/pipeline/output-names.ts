// The files one generate run writes into --out, named once: the writer stages them under these
// names and the input check looks at the same paths before any work starts.

export interface OutputNames {
  video: string;
  ego: string;
  sheet: string;
  summary: string;
  prior: string;
}

export function outputNames(take: string): OutputNames {
  return { video: `${take}.mp4`, ego: `${take}_ego.mp4`, sheet: `${take}_sheet.png`, summary: `${take}.json`, prior: `${take}_prior.mp4` };
}

export function pngName(take: string, frame: number): string {
  return `png/${take}_ego_${String(frame).padStart(5, '0')}.png`;
}

/** Every path a run with these settings writes, relative to --out. */
export function allOutputs(take: string, o: { renderPrior: boolean; png: boolean; frames: number }): string[] {
  const n = outputNames(take);
  const out = [n.video, n.ego, n.sheet, n.summary];
  if (o.renderPrior) out.push(n.prior);
  if (o.png) for (let i = 0; i < o.frames; i++) out.push(pngName(take, i));
  return out;
}
