/**
 * Video I/O through the ffmpeg command line: decode to packed RGB24 frames (optionally scaled to a
 * target size), encode RGB24 frames to H.264 yuv420p mp4. ffmpeg is a runtime dependency of egox;
 * without it the user gets one line saying how to install it. Encoding goes to a temporary file
 * that is renamed at the end, so a failed or interrupted run leaves nothing half-written.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../runtime/errors.ts';

/** ffmpeg/ffprobe is not installed (or EGOX_FFMPEG points nowhere). */
export class FfmpegMissingError extends InputError {
  constructor(tool: string) {
    super(`${tool} not found on PATH: install it (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg) or set EGOX_FFMPEG to the ffmpeg binary`);
  }
}

/** A video the user gave cannot be read or written. */
export class VideoError extends InputError {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`.replace(/\s*\n\s*/g, ' '));
  }
}

export interface VideoInfo {
  width: number;
  height: number;
  /** Frames per second (r_frame_rate). */
  fps: number;
  /** Frame count: counted by decoding with `countFrames`, else the container's, when it states one. */
  frames?: number;
}

/** Container formats that hold one still image, not a video (a PNG renamed to .mp4). */
const STILL_IMAGE_FORMATS = /^(png_pipe|jpeg_pipe|image2|webp_pipe|bmp_pipe|tiff_pipe|gif)$/;

export interface DecodeOptions {
  /** Output size; both or neither. Default: the video's own size. */
  width?: number;
  height?: number;
  /** Decode at most this many frames from the start. */
  maxFrames?: number;
  /** Skip this many seconds of the video first. */
  startSeconds?: number;
  /** Resample to this frame rate (ffmpeg's fps filter: frames dropped or repeated). */
  fps?: number;
  /** Keep the aspect ratio: scale to cover width x height, then crop the centre (default: stretch). */
  cover?: boolean;
}

/** Where a cover-and-centre-crop puts a source frame: scaled size and the crop's top-left corner. */
export interface CoverCrop {
  scale: number;
  scaledWidth: number;
  scaledHeight: number;
  x: number;
  y: number;
}

/** The smallest scale that covers dstW x dstH, and the centre crop of the scaled frame. */
export function coverCrop(srcW: number, srcH: number, dstW: number, dstH: number): CoverCrop {
  const scale = Math.max(dstW / srcW, dstH / srcH);
  const scaledWidth = Math.max(dstW, Math.round(srcW * scale));
  const scaledHeight = Math.max(dstH, Math.round(srcH * scale));
  return { scale, scaledWidth, scaledHeight, x: Math.floor((scaledWidth - dstW) / 2), y: Math.floor((scaledHeight - dstH) / 2) };
}

export interface DecodedVideo {
  width: number;
  height: number;
  /** One Uint8Array of width*height*3 (RGB24, row-major) per frame. */
  frames: Uint8Array[];
}

function ffmpegPath(): string {
  return process.env.EGOX_FFMPEG ?? 'ffmpeg';
}

function ffprobePath(): string {
  const ff = process.env.EGOX_FFMPEG;
  if (!ff) return 'ffprobe';
  // ffprobe ships beside ffmpeg.
  const dir = path.dirname(ff);
  return dir === '.' ? 'ffprobe' : path.join(dir, 'ffprobe');
}

interface RunResult {
  stdout: Buffer;
  stderr: string;
  code: number | null;
}

/** Runs a tool, feeding `input` chunks to stdin; rejects with FfmpegMissingError when it is not installed. */
function runTool(cmd: string, args: string[], input?: Iterable<Uint8Array>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new FfmpegMissingError(path.basename(cmd)));
      else reject(e);
    });
    child.on('close', (code) => resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), code }));
    if (input) {
      const stdin = child.stdin!;
      // EPIPE when ffmpeg exits early: the exit code and stderr explain it, so ignore it here.
      stdin.on('error', () => undefined);
      void (async () => {
        for (const chunk of input) {
          if (!stdin.write(chunk)) await new Promise<void>((r) => stdin.once('drain', () => r()));
        }
        stdin.end();
      })();
    }
  });
}

/** The last meaningful line ffmpeg printed: usually the reason it failed. */
function lastLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines[lines.length - 1] ?? 'no message';
}

function checkReadable(file: string): void {
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (e) {
    throw new VideoError(file, `cannot read video (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** Decoded frames are held in memory; 4 GiB is 49 frames of 4K video, 30x EgoX's inputs. */
const MAX_DECODE_BYTES = 4 * 2 ** 30;

/** Frame rate assumed for a folder of PNG frames (EgoX writes 30 fps). */
export const IMAGE_SEQUENCE_FPS = 30;

function isFolder(file: string): boolean {
  return fs.existsSync(file) && fs.statSync(file).isDirectory();
}

/** The sorted .png frames of a folder; a folder without any is a VideoError. */
export function listPngFrames(dir: string): string[] {
  const names = fs.readdirSync(dir).filter((n) => n.toLowerCase().endsWith('.png')).sort();
  if (names.length === 0) throw new VideoError(dir, 'folder has no .png frames; give a video file or a folder of frame PNGs (sorted by name)');
  return names.map((n) => path.join(dir, n));
}

/** ffmpeg input arguments: a video file, or a folder of PNG frames in name order. */
function inputArgs(file: string): string[] {
  if (!isFolder(file)) return ['-i', file];
  listPngFrames(file);
  const glob = path.join(file.replace(/[[\]*?]/g, (c) => `\\${c}`), '*.png');
  return ['-framerate', String(IMAGE_SEQUENCE_FPS), '-pattern_type', 'glob', '-i', glob];
}

/**
 * Size, frame rate and (if stated) frame count of the first video stream, via ffprobe. A
 * folder of PNG frames is a video too: its size is the first frame's, its rate 30 fps.
 */
export async function probeVideo(file: string, opts: { countFrames?: boolean } = {}): Promise<VideoInfo> {
  checkReadable(file);
  if (isFolder(file)) {
    const frames = listPngFrames(file);
    const first = await probeStream(frames[0]!, { still: true });
    return { width: first.width, height: first.height, fps: IMAGE_SEQUENCE_FPS, frames: frames.length };
  }
  return probeStream(file, opts);
}

async function probeStream(file: string, opts: { countFrames?: boolean; still?: boolean }): Promise<VideoInfo> {
  // With countFrames ffprobe decodes the stream and counts: containers may not say, or lie.
  const r = await runTool(ffprobePath(), [
    '-v', 'error', '-select_streams', 'v:0', ...(opts.countFrames ? ['-count_frames'] : []),
    '-show_entries', 'stream=width,height,r_frame_rate,nb_frames,nb_read_frames:format=format_name', '-of', 'json', file,
  ]);
  if (r.code !== 0) throw new VideoError(file, `not a readable video (ffprobe: ${lastLine(r.stderr)})`);
  type Stream = { width?: number; height?: number; r_frame_rate?: string; nb_frames?: string; nb_read_frames?: string };
  let probed: { streams?: Stream[]; format?: { format_name?: string } } | undefined;
  try {
    probed = JSON.parse(r.stdout.toString('utf8')) as typeof probed;
  } catch {
    probed = undefined;
  }
  const stream = probed?.streams?.[0];
  const format = probed?.format?.format_name ?? '';
  if (!opts.still && STILL_IMAGE_FORMATS.test(format)) throw new VideoError(file, `is a still image (${format.replace(/_pipe$/, '')}), not a video; give the mp4 (or a folder of frame PNGs)`);
  if (!stream || !stream.width || !stream.height) throw new VideoError(file, 'has no video stream');
  const [num, den] = (stream.r_frame_rate ?? '0/1').split('/').map(Number);
  const info: VideoInfo = { width: stream.width, height: stream.height, fps: den ? num! / den : num! };
  const n = Number(opts.countFrames ? stream.nb_read_frames : stream.nb_frames);
  if (Number.isInteger(n) && n >= 0 && (opts.countFrames || n > 0)) info.frames = n;
  if (opts.countFrames && info.frames === undefined) throw new VideoError(file, 'its frames could not be counted (ffprobe decoded none); the file is damaged');
  return info;
}

/**
 * Decodes a video (or a folder of PNG frames) to RGB24 frames. With a target size ffmpeg scales (bicubic, like PIL's default
 * resize that the official loader uses); without one frames keep the video's size.
 */
export async function decodeVideo(file: string, opts: DecodeOptions = {}): Promise<DecodedVideo> {
  if ((opts.width === undefined) !== (opts.height === undefined)) throw new Error('decodeVideo: give both width and height, or neither');
  let { width, height } = opts;
  let source: VideoInfo | undefined;
  if (opts.cover) {
    if (width === undefined || height === undefined) throw new Error('decodeVideo: cover needs a width and height');
    source = await probeVideo(file);
  }
  if (width === undefined || height === undefined) {
    const info = await probeVideo(file);
    width = info.width;
    height = info.height;
  } else {
    checkReadable(file);
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new Error(`decodeVideo: bad size ${width}x${height}`);
  }
  // ffmpeg's output is held in memory: bound it by the size the header states before decoding.
  const frameBytesOut = width * height * 3;
  if (frameBytesOut * (opts.maxFrames ?? 1) > MAX_DECODE_BYTES) {
    throw new VideoError(file, `decoding ${opts.maxFrames ?? 1} frames of ${width}x${height} needs ${Math.ceil((frameBytesOut * (opts.maxFrames ?? 1)) / 2 ** 30)} GiB; give a smaller video (EgoX's inputs are 784x448)`);
  }
  const args = ['-v', 'error', '-nostdin'];
  // Before -i: a fast seek that still lands on the exact frame (ffmpeg decodes from the keyframe).
  if (opts.startSeconds !== undefined && opts.startSeconds > 0) args.push('-ss', String(opts.startSeconds));
  args.push(...inputArgs(file));
  if (opts.maxFrames !== undefined) args.push('-frames:v', String(opts.maxFrames));
  const filters: string[] = [];
  if (opts.fps !== undefined) filters.push(`fps=${opts.fps}`);
  if (source) {
    const c = coverCrop(source.width, source.height, width, height);
    filters.push(`scale=${c.scaledWidth}:${c.scaledHeight}:flags=bicubic`, `crop=${width}:${height}:${c.x}:${c.y}`);
  } else {
    // scale is a no-op copy when the size already matches.
    filters.push(`scale=${width}:${height}:flags=bicubic`);
  }
  args.push('-vf', filters.join(','), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const r = await runTool(ffmpegPath(), args);
  if (r.code !== 0) throw new VideoError(file, `cannot decode (ffmpeg: ${lastLine(r.stderr)})`);
  const frameBytes = width * height * 3;
  const count = Math.floor(r.stdout.length / frameBytes);
  if (count === 0) throw new VideoError(file, 'decoded to no frames');
  const frames: Uint8Array[] = [];
  for (let i = 0; i < count; i++) frames.push(new Uint8Array(r.stdout.buffer, r.stdout.byteOffset + i * frameBytes, frameBytes).slice());
  return { width, height, frames };
}

export interface EncodeOptions {
  width: number;
  height: number;
  fps: number;
  /** x264 constant rate factor (lower = better; default 18, visually lossless). */
  crf?: number;
}

/**
 * Encodes RGB24 frames to an H.264 (libx264, yuv420p) mp4. The file appears only when complete:
 * ffmpeg writes `.<name>.<pid>.tmp.mp4` next to it, which is renamed on success and removed on failure.
 */
export async function encodeVideo(file: string, frames: readonly Uint8Array[], opts: EncodeOptions): Promise<void> {
  const { width, height, fps } = opts;
  if (width % 2 !== 0 || height % 2 !== 0) throw new Error(`encodeVideo: yuv420p needs an even size, got ${width}x${height}`);
  if (frames.length === 0) throw new Error('encodeVideo: no frames');
  const frameBytes = width * height * 3;
  frames.forEach((f, i) => {
    if (f.length !== frameBytes) throw new Error(`encodeVideo: frame ${i} has ${f.length} bytes, expected ${width}x${height}x3 = ${frameBytes}`);
  });
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new VideoError(file, `output folder ${dir} does not exist; create it first`);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp.mp4`);
  const args = [
    '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0',
    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', String(opts.crf ?? 18), '-movflags', '+faststart', tmp,
  ];
  let r: RunResult;
  try {
    r = await runTool(ffmpegPath(), args, frames);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  if (r.code !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new VideoError(file, `cannot encode (ffmpeg: ${lastLine(r.stderr)})`);
  }
  fs.renameSync(tmp, file);
}
