// The HTTP and WebSocket front door: connection caps, global gates (CORS, RequiredAuthorization), then the API
// envelope, pages and static files. Built on node:http directly: the envelope's intake rules
// (docs/COMPATIBILITY.md) are exact and the benchmarks compare against bare node:http. Every limit is in
// src/http/limits.ts; bodies are read by src/http/intake.ts.
import crypto from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { Core, type CoreOptions } from '../core.js';
import { dispatch } from '../api/envelope.js';
import { ApiError, apiError } from '../api/errors.js';
import { parseInput, parseInputAsync } from '../api/json-input.js';
import type { CookieOptions, RequestInfo, ResponseControl, RouteOutput } from '../api/route.js';
import { requestInfo } from './request-info.js';
import { redirect, sendApiError, sendJson } from './respond.js';
import { handlePage } from '../web/pages.js';
import { handleViewSpecial } from '../web/view-special.js';
import { serveExtensionFile, serveStatic } from './static.js';
import { ClientGone, Holding, Intake, answerRefusedBody } from './intake.js';
import { ConnectionGuard } from './connection-guard.js';
import { apiRouteKey, canonicalPath, encodePath } from './request-path.js';
import { CONNECTIONS_PER_ADDRESS, HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, REQUEST_TIMEOUT_MS, SESSIONLESS_MAX_BYTES, TIMEOUT_CHECK_INTERVAL_MS, totalConnectionCap } from './limits.js';

export { SESSIONLESS_MAX_BYTES };
/** A WebSocket route must send its input within this time. */
export const WS_FIRST_MESSAGE_MS = 60_000;
const WS_PING_MS = 30_000;

export interface ServerOptions extends CoreOptions {
  host?: string;
  port?: number;
}

export interface RunningServer {
  readonly core: Core;
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  /** The address to print and to open in a browser. */
  readonly url: string;
  close(): Promise<void>;
}

export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}

function cookieControl(res: ServerResponse | null, info: RequestInfo): ResponseControl {
  const add = (cookie: string): void => {
    if (!res) return;
    const prev = res.getHeader('Set-Cookie');
    res.setHeader('Set-Cookie', [...(Array.isArray(prev) ? prev : prev ? [String(prev)] : []), cookie]);
  };
  return {
    setCookie(name: string, value: string, o: CookieOptions) {
      const expires = new Date(Date.now() + o.maxAgeSeconds * 1000).toUTCString();
      add(`${name}=${value}; Expires=${expires}; Max-Age=${o.maxAgeSeconds}; Path=/; SameSite=Lax${o.httpOnly === false ? '' : '; HttpOnly'}${info.secure ? '; Secure' : ''}`);
    },
    clearCookie(name: string) {
      add(`${name}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax; HttpOnly${info.secure ? '; Secure' : ''}`);
    },
  };
}

const JSON_TYPE = /^\s*(application\/json|[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+\+json)\s*(;.*)?$/i;


/** The largest body a session may send (Network.MaxNetworkRequestMegabytes), within what one Buffer can hold. */
function sessionMaxBytes(core: Core): number {
  return Math.min(core.settings.int('Network.MaxNetworkRequestMegabytes') * 1024 * 1024, 2 ** 31 - 2);
}

/**
 * Why a stated Content-Length is refused, or null: not above zero, or not below the route's limit. A sessionless
 * route's own small limit (docs/COMPATIBILITY.md#d11) is named, since the reference would have read such a body.
 */
function badLength(core: Core, key: string, length: number): ApiError | null {
  const route = core.routes.get(key);
  const limit = route?.sessionless ? SESSIONLESS_MAX_BYTES : sessionMaxBytes(core);
  if (length > 0 && length < limit) return null;
  if (route?.sessionless && length >= limit) return apiError('basic_api', `bad content length: the body is too large, ${route.name} accepts at most ${limit - 1} bytes`);
  return apiError('basic_api', 'bad content length');
}

function refuseUnread(req: IncomingMessage, res: ServerResponse, err: ApiError): void {
  answerRefusedBody(req, res, () => sendApiError(res, err));
}

async function handleApiHttp(core: Core, intake: Intake, req: IncomingMessage, res: ServerResponse, info: RequestInfo, key: string): Promise<void> {
  const lengthHeader = req.headers['content-length'];
  const length = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : NaN;
  if (req.method !== 'POST') return answerRefusedBody(req, res, () => redirect(res, '/Error/NoGetAPI'));
  if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) return refuseUnread(req, res, apiError('basic_api', 'Wrong content type'));
  const lengthError = badLength(core, key, length);
  if (lengthError) return refuseUnread(req, res, lengthError);
  const holding = new Holding();
  try {
    let body: Buffer;
    try {
      body = await intake.read(req, info, length, holding);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      // A client's mistake or a budget at work: a debug line without stack, and the envelope's answer.
      core.log.debug({ route: key, error_id: err.body.error_id, why: err.message }, 'request body refused');
      return answerRefusedBody(req, res, () => sendApiError(res, err));
    }
    let input: Record<string, unknown>;
    try {
      input = await parseInputAsync(body);
    } catch (err) {
      if (err instanceof ApiError) return sendApiError(res, err);
      throw err;
    }
    const result = await dispatch(core, { key, input, request: info, response: cookieControl(res, info), socket: null, log: core.log });
    if (result.body === null) return sendApiError(res, apiError('no_result'));
    sendJson(res, result.status, result.body);
  } finally {
    holding.release();
  }
}

/** Network.RequiredAuthorization (docs/COMPATIBILITY.md): a shared secret in the Authorization header. */
function passesNetworkGate(core: Core, req: IncomingMessage, info: RequestInfo): boolean {
  const required = core.settings.string('Network.RequiredAuthorization');
  if (required === '') return true;
  const given = req.headers.authorization ?? '';
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(required, 'utf8');
  if (a.length === b.length && crypto.timingSafeEqual(a, b)) return true;
  return core.settings.string('Network.AuthBypassIPs').split(',').includes(info.socketAddress);
}

function applyCors(core: Core, req: IncomingMessage, res: ServerResponse): boolean {
  const origin = core.settings.string('Network.AccessControlAllowOrigin');
  if (origin === '') return false;
  res.setHeader('Access-Control-Allow-Origin', origin);
  if (req.method !== 'OPTIONS') return false;
  res.statusCode = 204;
  res.setHeader('Access-Control-Allow-Methods', '*');
  res.setHeader('Access-Control-Allow-Headers', '*');
  res.setHeader('Access-Control-Max-Age', '3600');
  res.end();
  return true;
}

/**
 * Whether a WebSocket upgrade may proceed: no Origin (not a browser), the same origin (its host is the Host
 * header), or an origin Network.AccessControlAllowOrigin allows ('*' or exactly that origin).
 */
export function upgradeOriginAllowed(origin: string | undefined, host: string | undefined, allowed: string): boolean {
  if (origin === undefined) return true;
  if (allowed === '*' || (allowed !== '' && allowed.replace(/\/+$/, '').toLowerCase() === origin.toLowerCase())) return true;
  try {
    return host !== undefined && new URL(origin).host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}

async function handleRequest(core: Core, intake: Intake, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const info = requestInfo(req, core.settings);
  if (applyCors(core, req, res)) return;
  if (!passesNetworkGate(core, req, info)) {
    res.writeHead(401, { 'Content-Type': 'text/plain', 'Content-Length': 12 });
    res.end('Unauthorized');
    return;
  }
  const [rawPath, query] = splitUrl(req.url);
  const key = apiRouteKey(rawPath);
  if (key !== null) return handleApiHttp(core, intake, req, res, info, key);
  // Everything else sees one canonical path, so no spelling of a path slips past a check (page templates).
  const canonical = canonicalPath(rawPath);
  if (canonical === null) return redirect(res, '/Error/404');
  const pathname = encodePath(canonical);
  req.url = query === null ? pathname : `${pathname}?${query}`;
  if (await handleViewSpecial(core, req, res, info)) return;
  if (await handlePage(core, req, res, info)) return;
  if ((req.method === 'GET' || req.method === 'HEAD') && (await serveStatic(req, res, pathname))) return;
  if ((req.method === 'GET' || req.method === 'HEAD') && (await serveExtensionFile(core.extensionFiles, req, res, pathname))) return;
  if (pathname.toLowerCase().startsWith('/error/')) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('Not found');
    return;
  }
  redirect(res, '/Error/404');
}

/** The path and query of a request target (query null when absent). */
function splitUrl(url: string | undefined): [string, string | null] {
  const target = url ?? '/';
  const q = target.indexOf('?');
  return q < 0 ? [target, null] : [target.slice(0, q), target.slice(q + 1)];
}

function handleSocket(core: Core, ws: WebSocket, req: IncomingMessage, info: RequestInfo, key: string): void {
  const closed = new AbortController();
  const ping = setInterval(() => ws.ping(), WS_PING_MS);
  const timeout = setTimeout(() => finish(apiError('internal_error', 'No input message arrived within 60 seconds.').body), WS_FIRST_MESSAGE_MS);
  let started = false;
  const send = (message: RouteOutput): Promise<void> =>
    new Promise((resolve, reject) => {
      if (ws.readyState !== ws.OPEN) return reject(new Error('The WebSocket is closed.'));
      ws.send(JSON.stringify(message), (err) => (err ? reject(err) : resolve()));
    });
  function finish(message: RouteOutput | null): void {
    clearTimeout(timeout);
    const close = (): void => ws.close(1000);
    if (message && ws.readyState === ws.OPEN) send(message).then(close, close);
    else close();
  }
  ws.on('close', () => {
    clearInterval(ping);
    clearTimeout(timeout);
    closed.abort(new Error('The WebSocket closed.'));
  });
  ws.on('error', (err) => core.log.debug({ why: err.message }, 'WebSocket error'));
  ws.on('message', (data) => {
    if (started) return; // later messages are not part of the envelope; routes read none today
    started = true;
    clearTimeout(timeout);
    void (async () => {
      let input: Record<string, unknown>;
      try {
        // Text and binary frames alike are UTF-8 JSON; ws hands over one Buffer per message.
        input = parseInput(data as Buffer);
      } catch (err) {
        return finish(err instanceof ApiError ? err.body : apiError('internal_error').body);
      }
      const result = await dispatch(core, { key, input, request: info, response: cookieControl(null, info), socket: { send, signal: closed.signal }, log: core.log });
      finish(result.body);
    })().catch((err: unknown) => {
      // dispatch answers every route failure itself; this is the socket plumbing failing.
      core.log.error({ err, route: key }, 'WebSocket call failed');
      ws.terminate();
    });
  });
}

/** Starts a server: opens the store, registers routes and extensions, listens. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const core = await Core.open(options);
  let intake: Intake;
  try {
    intake = await Intake.open(core, () => sessionMaxBytes(core));
  } catch (err) {
    await core.close();
    throw err;
  }
  // WebSocket routes take one small input message (the install choices): the sessionless cap, so nothing
  // large is held before the envelope has checked the session.
  const wss = new WebSocketServer({ noServer: true, maxPayload: SESSIONLESS_MAX_BYTES });
  const server = createServer(
    { maxHeaderSize: 1024 * 1024, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
    (req, res) => {
      if (guard.refused.has(req.socket)) return;
      handleRequest(core, intake, req, res).catch((err: unknown) => {
        // A client that leaves mid-request is the client's doing: a debug line, no stack.
        if (err instanceof ClientGone) {
          core.log.debug({ url: req.url, why: err.message }, 'client left mid-request');
          res.destroy();
          return;
        }
        core.log.error({ err, url: req.url }, 'request failed');
        if (!res.headersSent) sendApiError(res, apiError('internal_error'), true);
        else res.destroy();
      });
    },
  );
  const trustedProxies = (): string[] => core.settings.list('Network.TrustedProxies');
  const guard = new ConnectionGuard(server, { perAddress: CONNECTIONS_PER_ADDRESS, total: totalConnectionCap(), exempt: (a) => trustedProxies().includes(a) }, core.log);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (guard.refused.has(req.socket)) return;
    const info = requestInfo(req, core.settings);
    const key = apiRouteKey(splitUrl(req.url)[0]);
    if (key === null) return void socket.destroy();
    if (!passesNetworkGate(core, req, info)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nUnauthorized');
      return;
    }
    if (!upgradeOriginAllowed(req.headers.origin, req.headers.host, core.settings.string('Network.AccessControlAllowOrigin'))) {
      core.log.debug({ origin: req.headers.origin }, 'cross-origin WebSocket upgrade refused');
      const refusal = apiError('cross_origin');
      const text = JSON.stringify(refusal.body);
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => handleSocket(core, ws, req, info, key));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A body cut short by a half-close: its request gets the envelope's answer at once instead of waiting out
    // requestTimeout.
    if (err.code === 'HPE_INVALID_EOF_STATE' && intake.bodyEndedEarly(socket as Socket)) return;
    core.log.debug({ code: err.code }, 'malformed or abandoned request');
    if (socket.writable && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  const hostSetting = options.host ?? core.settings.string('Network.Host');
  const host = hostSetting === 'localhost' ? '127.0.0.1' : hostSetting === '*' ? '0.0.0.0' : hostSetting;
  let port = options.port ?? core.settings.int('Network.Port');
  const canChange = options.port === undefined && core.settings.bool('Network.PortCanChange');
  for (;;) {
    try {
      await listen(server, host, port);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' && canChange && port < 65535) {
        port++;
        continue;
      }
      await intake.close();
      await core.close();
      if (code === 'EADDRINUSE') throw new ListenError(`Port ${port} on ${host} is already in use. Stop the other program or choose another port with --port.`);
      if (code === 'EACCES') throw new ListenError(`Not allowed to listen on ${host}:${port}. Choose a port above 1023 with --port.`);
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ListenError(`Cannot listen on ${host}: this machine has no such address.`);
      throw err;
    }
  }
  const actualPort = (server.address() as { port: number }).port;
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${actualPort}`;
  let closing: Promise<void> | undefined;
  return {
    core,
    server,
    host,
    port: actualPort,
    url,
    close() {
      closing ??= (async () => {
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await intake.close();
        await core.close();
      })();
      return closing;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
