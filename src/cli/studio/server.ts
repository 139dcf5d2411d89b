// The `egox studio` HTTP server: 127.0.0.1 only, every request checked by guard.ts, and only
// the studio folder's files behind it (folder.ts). Routes:
//   GET  /                 the page (its script URL carries the token)
//   GET  /studio.js        the page's bundle (egox's browser entry + the page code)
//   GET  /api/take         the take: cameras, sizes, current ego poses
//   GET  /api/exo          exo frames, RGB24, frame after frame, as `egox prior` decodes them
//   GET  /api/depth        depth maps, float32 little-endian, frame after frame
//   GET  /files/<path>     a file inside the folder (e.g. the saved ego_Prior.mp4)
//   POST /api/save         {"keys": [...]} -> meta.json (+ backup) and ego_Prior.mp4
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EgoxDevice } from '../../runtime/device.ts';
import { loadEgoxTake, readDepthFrame, type EgoxTakeWithDepth } from '../../io/meta.ts';
import { probeVideo } from '../../io/video.ts';
import { loadPriorExoFrames, PRIOR_FRAMES } from '../../pipeline/prior.ts';
import { StudioFolder, StudioFolderError, OutsideFolderError } from './folder.ts';
import { refusal } from './guard.ts';
import { parseKeys, saveTake, StudioRequestError } from './save.ts';

export interface StudioServerOptions {
  folder: StudioFolder;
  take?: string;
  token: string;
  /** 0 = any free port. */
  port?: number;
  /** The page's HTML (with %TOKEN% where the script URL takes it) and its bundle. */
  html: string;
  script: string;
  /** Opens the device the server renders the saved prior on (once, at the first save). */
  openDevice: () => Promise<EgoxDevice>;
  log?: (line: string) => void;
}

export interface StudioServer {
  url: string;
  port: number;
  close: () => Promise<void>;
}

const MAX_BODY = 64 * 1024;
const TYPES: Record<string, string> = { '.mp4': 'video/mp4', '.json': 'application/json', '.png': 'image/png', '.npy': 'application/octet-stream' };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) fail(new HttpError(413, `request body over ${MAX_BODY} bytes`));
      else chunks.push(c);
    });
    req.on('end', () => {
      try {
        ok(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        fail(new HttpError(400, 'request body is not JSON'));
      }
    });
    req.on('error', fail);
  });
}

/** The take's files must all lie inside the folder (meta.json may point anywhere). */
function checkTakeInside(folder: StudioFolder, take: EgoxTakeWithDepth): void {
  for (const p of [take.exoPath, take.depthDir, ...take.depthFiles, take.egoPriorPath]) {
    if (!folder.contains(p)) throw new StudioFolderError(`studio: take '${take.name}' uses ${p}, outside ${folder.root}; egox studio reads and writes only inside DIR, so give the folder that holds all of the take's files`);
  }
}

export async function startStudioServer(o: StudioServerOptions): Promise<StudioServer> {
  const { folder } = o;
  const take = loadEgoxTake(folder.metaPath, o.take);
  checkTakeInside(folder, take);
  const frames = Math.min(PRIOR_FRAMES, take.depthFiles.length, take.egoExtrinsics.length);
  let exo: Promise<{ rgb: Uint8Array[]; shape: [number, number] }> | undefined;
  const exoFrames = () => (exo ??= loadPriorExoFrames(take, frames));
  let device: Promise<EgoxDevice> | undefined;
  let saving: Promise<unknown> = Promise.resolve();
  let port = 0;

  async function route(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const send = (status: number, type: string, body: string | Uint8Array): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    };
    const p = url.pathname;
    if (req.method === 'GET' && p === '/') return send(200, 'text/html; charset=utf-8', o.html.replaceAll('%TOKEN%', o.token));
    if (req.method === 'GET' && p === '/studio.js') return send(200, 'text/javascript', o.script);
    if (req.method === 'GET' && p === '/api/take') {
      const [e, video] = await Promise.all([exoFrames(), probeVideo(take.exoPath)]);
      return send(200, 'application/json', JSON.stringify({
        name: take.name,
        frames,
        depthShape: take.depthShape,
        exoShape: e.shape,
        exoVideoShape: [video.height, video.width],
        exoIntrinsics: Array.from(take.exoIntrinsics),
        exoExtrinsics: Array.from(take.exoExtrinsics),
        egoIntrinsics: Array.from(take.egoIntrinsics),
        egoExtrinsics: take.egoExtrinsics.slice(0, frames).map((m) => Array.from(m)),
        priorPath: folder.resolve(take.egoPriorPath).slice(folder.root.length + 1),
      }));
    }
    if (req.method === 'GET' && p === '/api/exo') {
      const e = await exoFrames();
      return send(200, 'application/octet-stream', Buffer.concat(e.rgb));
    }
    if (req.method === 'GET' && p === '/api/depth') {
      const parts = Array.from({ length: frames }, (_, f) => readDepthFrame(take, f));
      return send(200, 'application/octet-stream', Buffer.concat(parts.map((d) => new Uint8Array(d.buffer, d.byteOffset, d.byteLength))));
    }
    if (req.method === 'GET' && p.startsWith('/files/')) {
      const file = folder.resolve(decodeURIComponent(p.slice('/files/'.length)));
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new HttpError(404, 'no such file in the studio folder');
      const ext = file.slice(file.lastIndexOf('.')).toLowerCase();
      return send(200, TYPES[ext] ?? 'application/octet-stream', fs.readFileSync(file));
    }
    if (req.method === 'POST' && p === '/api/save') {
      const keys = parseKeys(await readBody(req));
      const run = saving.then(async () => saveTake(await (device ??= o.openDevice()), folder, loadEgoxTake(folder.metaPath, take.name), keys));
      saving = run.catch(() => undefined);
      const r = await run;
      o.log?.(`saved ${r.metaPath} (backup ${r.backupPath}) and ${r.priorPath}`);
      return send(200, 'application/json', JSON.stringify(r));
    }
    throw new HttpError(404, `no route ${req.method} ${p}`);
  }

  const server = http.createServer((req, res) => {
    const refused = refusal(req, port, o.token);
    if (refused) {
      res.writeHead(refused.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: refused.reason }));
      req.resume();
      return;
    }
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    route(req, res, url).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : e instanceof OutsideFolderError ? 403 : (e as { exitCode?: number }).exitCode === 2 || e instanceof StudioRequestError ? 400 : 500;
      if (status === 500) o.log?.(`internal error on ${req.method} ${url.pathname}: ${(e as Error).stack ?? String(e)}`);
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (e as Error).message }));
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 0, '127.0.0.1', ok);
  });
  port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/?token=${o.token}`,
    close: async () => {
      await new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections();
      if (device) (await device).destroy();
    },
  };
}
