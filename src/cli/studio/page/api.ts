// The page's side of the studio server: every request carries the session token from the
// page's own URL; the take arrives as JSON plus two binary blobs (exo frames, depth maps).

export interface TakeInfo {
  name: string;
  frames: number;
  depthShape: [number, number];
  /** [H, W] of the exo frames as sent (as `egox prior` decodes them). */
  exoShape: [number, number];
  /** [H, W] of the exo video: the pixels trajectory keys are given in. */
  exoVideoShape: [number, number];
  exoIntrinsics: number[];
  exoExtrinsics: number[];
  egoIntrinsics: number[];
  egoExtrinsics: number[][];
  priorPath: string;
}

export interface TakeData {
  info: TakeInfo;
  rgb: Uint8Array[];
  depth: Float32Array[];
}

export interface PageKey {
  frame: number;
  head: [number, number];
  lookAt?: [number, number];
}

const token = new URLSearchParams(location.search).get('token') ?? '';

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(path, { ...init, headers: { ...(init.headers ?? {}), 'X-Egox-Token': token } });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: string };
    throw new Error(`${path}: ${res.status} ${body.error ?? res.statusText}`);
  }
  return res;
}

export async function loadTake(): Promise<TakeData> {
  const [info, exo, depth] = await Promise.all([
    request('/api/take').then((r) => r.json() as Promise<TakeInfo>),
    request('/api/exo').then((r) => r.arrayBuffer()),
    request('/api/depth').then((r) => r.arrayBuffer()),
  ]);
  const [EH, EW] = info.exoShape;
  const [H, W] = info.depthShape;
  const rgb = Array.from({ length: info.frames }, (_, f) => new Uint8Array(exo, f * EH * EW * 3, EH * EW * 3));
  const maps = Array.from({ length: info.frames }, (_, f) => new Float32Array(depth, f * H * W * 4, H * W));
  return { info, rgb, depth: maps };
}

export async function saveKeys(keys: readonly PageKey[]): Promise<{ metaPath: string; backupPath: string; priorPath: string; poses: number[][] }> {
  const res = await request('/api/save', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys }) });
  return res.json() as Promise<{ metaPath: string; backupPath: string; priorPath: string; poses: number[][] }>;
}

/** URL of a file inside the studio folder (e.g. the saved prior video). */
export const fileUrl = (rel: string): string => `/files/${rel.split('/').map(encodeURIComponent).join('/')}?token=${encodeURIComponent(token)}&t=${Date.now()}`;
