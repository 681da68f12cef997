// What a request says about its sender: addresses (docs/COMPATIBILITY.md#client-address,
// docs/COMPATIBILITY.md#d10: trusting X-Forwarded-* only from Network.TrustedProxies), cookies, HTTPS, and whether
// it counts as the local user.
import type { IncomingMessage } from 'node:http';
import type { ServerSettings } from '../settings/server-settings.js';
import type { RequestInfo } from '../api/route.js';

const LOOPBACK = new Set(['127.0.0.1', '::1']);
const NONE: readonly string[] = [];
const FORWARDED_CHARS = /[^A-Za-z0-9 .:,;_\-*@#%[\]]/g;

export function plainAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (name in out) continue; // the first cookie of a name wins, as browsers send the most specific first
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      out[name] = value;
    }
  }
  return out;
}

function headerValues(req: IncomingMessage, name: string): readonly string[] {
  const raw: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) raw.push(req.rawHeaders[i + 1]!);
  }
  return raw;
}

export function requestInfo(req: IncomingMessage, settings: ServerSettings): RequestInfo {
  const socketAddress = plainAddress(req.socket.remoteAddress);
  // node joins repeated X-Forwarded-For lines into one header; each line counts on its own here.
  const forwarded = req.headers['x-forwarded-for'] === undefined ? NONE : headerValues(req, 'x-forwarded-for');
  const trusted = settings.list('Network.TrustedProxies');
  const viaProxy = trusted.includes(socketAddress);
  let clientAddress = socketAddress;
  if (viaProxy && forwarded.length > 0) {
    // The right-most address that is not one of our own proxies is the client.
    const hops = forwarded.join(',').split(',').map((s) => plainAddress(s.trim())).filter((s) => s !== '');
    clientAddress = [...hops].reverse().find((h) => !trusted.includes(h)) ?? socketAddress;
  }
  const maxVia = settings.int('Network.MaxXForwardedFor');
  let ipString = socketAddress;
  for (const v of forwarded.slice(0, Math.max(0, maxVia))) ipString += ` (via ${v.replace(FORWARDED_CHARS, '')})`;
  if (ipString.length > 500) ipString = `${ipString.slice(0, 500)} (...)`;
  const proto = req.headers['x-forwarded-proto'];
  const secure = ('encrypted' in req.socket && Boolean(req.socket.encrypted)) || (viaProxy && typeof proto === 'string' && proto.split(',')[0]!.trim() === 'https');
  const localhostBypass = settings.bool('UserAuthorization.AllowLocalhostBypass') && LOOPBACK.has(socketAddress) && forwarded.length === 0;
  return { socketAddress, clientAddress, ipString, headers: req.headers, cookies: parseCookies(req.headers.cookie), secure, localhostBypass };
}
