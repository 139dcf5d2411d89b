// The exo clip of `egox prepare`: the frames from --start (resampled to --fps), scaled to cover
// EgoX's 784x448 exo frame and centre-cropped (the Ego-Exo4D exo.mp4 are the centre of a
// 796x448 frame; EgoX itself then only resizes), with the errors a user can act on: too short,
// unreadable, a still picture.
import * as fs from 'node:fs';
import { coverCrop, decodeVideo, probeVideo, VideoError, type CoverCrop, type VideoInfo } from '../io/video.ts';
import { InputError } from '../runtime/errors.ts';

/** EgoX's exo frame (egox-official.md A.5). */
export const EXO_WIDTH = 784;
export const EXO_HEIGHT = 448;

export class PrepareInputError extends InputError {}

export interface ClipRequest {
  startSeconds: number;
  frames: number;
  /** Resample to this rate; default the video's own. */
  fps?: number;
}

export interface ExoClip {
  source: VideoInfo;
  /** Where the source frame went: scale and crop onto the 784x448 grid. */
  crop: CoverCrop;
  /** RGB24 784x448 frames, exactly `frames` of them. */
  frames: Uint8Array[];
  fps: number;
}

/** Mean absolute grey-level difference (0..255) of two RGB24 frames on every 4th pixel. */
function meanDifference(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < a.length; i += 12) {
    sum += Math.abs(a[i]! + a[i + 1]! + a[i + 2]! - b[i]! - b[i + 1]! - b[i + 2]!) / 3;
    n++;
  }
  return sum / n;
}

/** Frames this close to the first one (mean grey difference) count as the same picture. */
const STILL_LEVEL = 0.5;

export async function readExoClip(video: string, req: ClipRequest): Promise<ExoClip> {
  if (!fs.existsSync(video)) throw new PrepareInputError(`${video}: not found; give a video file or a folder of PNG frames`);
  const source = await probeVideo(video);
  const fps = req.fps ?? source.fps;
  if (!(fps > 0)) throw new VideoError(video, 'states no frame rate; pass --fps');
  const decoded = await decodeVideo(video, {
    width: EXO_WIDTH,
    height: EXO_HEIGHT,
    cover: true,
    startSeconds: req.startSeconds,
    fps: req.fps,
    maxFrames: req.frames,
  }).catch((e: unknown) => {
    // ffmpeg gives no frames when --start is past the end.
    if (e instanceof VideoError && /decoded to no frames/.test(e.message)) return { frames: [] as Uint8Array[] };
    throw e;
  });
  const got = decoded.frames.length;
  if (got < req.frames) {
    const length = source.frames !== undefined ? `${source.frames} frames at ${source.fps.toFixed(2)} fps` : `a ${source.fps.toFixed(2)} fps video`;
    throw new PrepareInputError(
      `${video}: ${length} gives ${got} frames from --start ${req.startSeconds}s at ${fps.toFixed(2)} fps; EgoX needs ${req.frames}: give an earlier --start, a lower --fps or a longer video`,
    );
  }
  const first = decoded.frames[0]!;
  if (decoded.frames.every((f) => meanDifference(first, f) < STILL_LEVEL)) {
    throw new PrepareInputError(`${video}: all ${req.frames} frames from --start ${req.startSeconds}s show the same picture; egox prepare needs a video of a scene (give a moving clip, not a still image)`);
  }
  return { source, crop: coverCrop(source.width, source.height, EXO_WIDTH, EXO_HEIGHT), frames: decoded.frames, fps };
}
