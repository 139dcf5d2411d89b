// Who may talk to the studio server: requests to 127.0.0.1 on our port (a Host check, against
// DNS rebinding) that carry the session token (the `token` query parameter or the X-Egox-Token
// header) and, when the browser sends an Origin, come from our own page. Anything else is
// refused before any route runs.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_HEADER = 'x-egox-token';

export function newSessionToken(): string {
  return randomBytes(24).toString('base64url');
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Why a request is refused (an HTTP status and a line), or null when it may go on. */
export function refusal(req: IncomingMessage, port: number, token: string): { status: number; reason: string } | null {
  const origin = `http://127.0.0.1:${port}`;
  if (req.headers.host !== `127.0.0.1:${port}`) return { status: 403, reason: 'wrong Host: open the URL egox studio printed' };
  const from = req.headers.origin;
  if (from !== undefined && from !== origin) return { status: 403, reason: `requests from ${from} are not allowed` };
  // A state-changing request must say where it comes from (browsers always send Origin on POST).
  if (req.method !== 'GET' && req.method !== 'HEAD' && from === undefined) return { status: 403, reason: 'missing Origin' };
  const url = new URL(req.url ?? '/', origin);
  const given = (req.headers[TOKEN_HEADER] as string | undefined) ?? url.searchParams.get('token') ?? '';
  if (!sameToken(given, token)) return { status: 401, reason: 'missing or wrong session token: open the URL egox studio printed' };
  return null;
}
