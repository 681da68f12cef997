// The operations endpoints outside /API/ (README.md#health-and-metrics): GET /health/live, GET /health/ready and
// GET /metrics. No session, no store write, no rate limit: a load balancer may ask every second. Each is limited
// to the client addresses of its setting (Network.HealthAllowedIPs, Network.MetricsAllowedIPs), the client
// address being the one the rate limits use (trusted proxies only, src/http/request-info.ts).
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Core } from '../core.js';
import { apiError } from '../api/errors.js';
import type { RequestInfo } from '../api/route.js';
import type { RequestKind } from '../ops/metrics.js';
import { sendApiError, sendJson } from './respond.js';

const ENDPOINTS: Record<string, { kind: RequestKind; setting: string }> = {
  '/health/live': { kind: 'health', setting: 'Network.HealthAllowedIPs' },
  '/health/ready': { kind: 'health', setting: 'Network.HealthAllowedIPs' },
  '/metrics': { kind: 'metrics', setting: 'Network.MetricsAllowedIPs' },
};

/** The kind of an operations endpoint path (exact, as load balancers and Prometheus send it), else null. */
export function opsEndpoint(pathname: string): RequestKind | null {
  return ENDPOINTS[pathname]?.kind ?? null;
}

/** An address list setting as a matcher; the setting's value (a shared array) is the cache key. */
const matchers = new WeakMap<readonly string[], BlockList>();

/** Builds the matcher of addresses (`10.1.2.3`, `::1`) and CIDR ranges (`10.0.0.0/8`, `fd00::/8`); bad entries are logged and skipped. */
export function addressMatcher(entries: readonly string[], log?: Logger): BlockList {
  let list = matchers.get(entries);
  if (list) return list;
  list = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim();
    const slash = entry.indexOf('/');
    const address = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(address);
    const prefix = slash < 0 ? null : Number(entry.slice(slash + 1));
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (family === 0 || (prefix !== null && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= (family === 6 ? 128 : 32)))) {
      log?.warn({ entry }, 'an address list entry is neither an address nor a CIDR range; it is ignored');
      continue;
    }
    if (prefix === null) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  }
  matchers.set(entries, list);
  return list;
}

/** Whether `address` may use an endpoint whose setting lists `entries` (an empty list lets everyone in). */
export function addressAllowed(entries: readonly string[], address: string, log?: Logger): boolean {
  if (entries.length === 0) return true;
  const family = isIP(address);
  if (family === 0) return false;
  return addressMatcher(entries, log).check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** Answers an operations endpoint (`opsEndpoint(pathname)` was not null). */
export async function handleOpsEndpoint(core: Core, req: IncomingMessage, res: ServerResponse, info: RequestInfo, pathname: string): Promise<void> {
  const endpoint = ENDPOINTS[pathname]!;
  if (!addressAllowed(core.settings.list(endpoint.setting), info.clientAddress, core.log)) {
    core.log.debug({ path: pathname, address: info.clientAddress }, 'operations endpoint refused: address not allowed');
    return sendApiError(res, apiError('address_refused', `This address may not read ${pathname} (see ${endpoint.setting}).`));
  }
  if (pathname === '/health/live') return sendJson(res, 200, { status: 'live' });
  if (pathname === '/health/ready') {
    const readiness = await core.readiness();
    return sendJson(res, readiness.status === 'ready' ? 200 : 503, { ...readiness });
  }
  const { contentType, text } = await core.metrics.render();
  res.statusCode = 200;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.setHeader('Cache-Control', 'no-store');
  res.end(req.method === 'HEAD' ? undefined : text);
}
