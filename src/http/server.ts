// The HTTP and WebSocket front door: connection caps, global gates (CORS, RequiredAuthorization), then the API
// envelope, pages and static files. Built on node:http directly: the envelope's intake rules
// (docs/COMPATIBILITY.md) are exact and the benchmarks compare against bare node:http. Every limit is in
// src/http/limits.ts; bodies are read by src/http/intake.ts.
import crypto from 'node:crypto';
import { cookieControl } from './cookies.js';
import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { Core, type CoreOptions } from '../core.js';
import { dispatch } from '../api/envelope.js';
import { ApiError, apiError } from '../api/errors.js';
import { parseInput, parseInputAsync, parseSmallInput } from '../api/json-input.js';
import type { RequestInfo, RouteDef, RouteOutput } from '../api/route.js';
import { hostRefusalText, refusedHost } from './host-check.js';
import { requestInfo } from './request-info.js';
import { redirect, sendApiError, sendJson } from './respond.js';
import { handlePage } from '../web/pages.js';
import { handleOAuth } from '../web/oauth.js';
import { handleOpenApi } from './openapi.js';
import { handleViewSpecial } from '../web/view-special.js';
import { serveExtensionFile, serveStatic } from './static.js';
import { ClientGone, Holding, Intake, answerRefusedBody } from './intake.js';
import { ConnectionGuard } from './connection-guard.js';
import { apiRouteKey, canonicalPath, encodePath } from './request-path.js';
import { handleOpsEndpoint, opsEndpoint } from './health.js';
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
  /** Stops at once: open connections and WebSockets are cut, then the store is closed. */
  close(): Promise<void>;
  /**
   * Stops gracefully (what SIGTERM does, README.md#health-and-metrics): readiness answers 503 `stopping`, the
   * listener closes, requests under way finish (their connections then close) for up to
   * Network.ShutdownGraceSeconds, WebSockets are closed with code 1001 (going away), idle keep-alive connections
   * are closed; after the grace period whatever is left is cut. Then the store is closed and one line logged.
   */
  shutdown(options?: ShutdownOptions): Promise<ShutdownReport>;
}

export interface ShutdownOptions {
  /** Overrides Network.ShutdownGraceSeconds. */
  graceSeconds?: number;
  /** Why, for the log line (`SIGTERM`). */
  reason?: string;
}

export interface ShutdownReport {
  /** HTTP requests under way when the shutdown began, or that arrived on open connections after, and were answered. */
  answered: number;
  /** Connections (HTTP and WebSocket) still open at the end of the grace period, cut. */
  cut: number;
  /** WebSockets told the server is going away. */
  websockets: number;
}

/**
 * While stopping, a keep-alive connection with no request under way is closed once it has been idle this long: not
 * at once, because a client that has just had an answer may already be sending its next request on it.
 */
const SHUTDOWN_IDLE_CLOSE_MS = 250;
/** How often a stopping server looks for such connections. */
const SHUTDOWN_SWEEP_MS = 50;

/** One open connection, for the graceful shutdown. */
interface ConnectionState {
  /** Requests under way on it. */
  busy: number;
  /** When its last answer ended (or it opened). */
  idleSince: number;
  /** Handed to the WebSocket server (or refused an upgrade): never closed as an idle HTTP connection. */
  upgraded: boolean;
}

export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
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
function badLength(core: Core, route: RouteDef | undefined, length: number): ApiError | null {
  const limit = route?.sessionless ? SESSIONLESS_MAX_BYTES : sessionMaxBytes(core);
  if (length > 0 && length < limit) return null;
  if (route?.sessionless && length >= limit) return apiError('basic_api', `bad content length: the body is too large, ${route.name} accepts at most ${limit - 1} bytes`);
  return apiError('basic_api', 'bad content length');
}

async function handleApiHttp(core: Core, intake: Intake, req: IncomingMessage, res: ServerResponse, info: RequestInfo, key: string, routeDef: RouteDef | undefined): Promise<void> {
  const route = routeDef?.name ?? 'unknown';
  const lengthHeader = req.headers['content-length'];
  const length = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : NaN;
  if (req.method !== 'POST') return answerRefusedBody(req, res, () => redirect(res, '/Error/NoGetAPI'));
  if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) return refuseBody(core, route, req, res, apiError('basic_api', 'Wrong content type'));
  const lengthError = badLength(core, routeDef, length);
  if (lengthError) return refuseBody(core, route, req, res, lengthError);
  const holding = new Holding();
  try {
    let body: Buffer;
    try {
      // One microtask: node's parser has then handed over the rest of the packet (Intake.takeWhole).
      await undefined;
      body = intake.takeWhole(req, length, holding) ?? (await intake.read(req, info, length, holding));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      // A client's mistake or a budget at work: a debug line without stack, and the envelope's answer.
      core.log.debug({ route: key, error_id: err.body.error_id, why: err.message }, 'request body refused');
      return refuseBody(core, route, req, res, err);
    }
    let input: Record<string, unknown>;
    try {
      input = parseSmallInput(body) ?? (await parseInputAsync(body));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      core.metrics.apiCall(route, 'http', err.body);
      return sendApiError(res, err);
    }
    const dispatched = dispatch(core, { key, route: routeDef, input, request: info, response: cookieControl(res, info), socket: null, log: core.log });
    const result = dispatched instanceof Promise ? await dispatched : dispatched;
    // No ApiError for an ordinary answer: it is an Error object, and every call would build one.
    const answer = result.body === null ? apiError('no_result') : (result as { status: number; body: RouteOutput });
    core.metrics.apiCall(route, 'http', answer.body);
    sendJson(res, answer.status, answer.body);
  } finally {
    holding.release();
  }
}

/** Answers an API call refused before its body was read (the body is drained or the connection closed). */
function refuseBody(core: Core, route: string, req: IncomingMessage, res: ServerResponse, err: ApiError): void {
  core.metrics.apiCall(route, 'http', err.body);
  answerRefusedBody(req, res, () => sendApiError(res, err));
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

/** What the metrics call a request: a declared API route name or a fixed kind, never the path itself. */
interface RequestLabel {
  route: string;
}

/** A response with what its 'close' listener records: the request's label, start time and connection. */
class TrackedResponse extends ServerResponse implements RequestLabel {
  route = 'unknown';
  started = 0;
  /** Not `connection`: ServerResponse already has that name (the socket). */
  openConnection: ConnectionState | undefined = undefined;
}

/**
 * Answers a request: at once, or with a promise of the answer. Not itself async: an API call's promise is
 * handleApiHttp's own, not one more wrapped around it.
 */
function handleRequest(core: Core, intake: Intake, req: IncomingMessage, res: ServerResponse, label: RequestLabel): Promise<void> | void {
  const info = requestInfo(req, core.settings);
  const [rawPath, query] = splitUrl(req.url);
  // Health and metrics first: a load balancer or Prometheus sends neither CORS nor the shared Authorization
  // secret; each endpoint has its own address list instead.
  const ops = req.method === 'GET' || req.method === 'HEAD' ? opsEndpoint(rawPath) : null;
  if (ops !== null) {
    label.route = ops;
    return handleOpsEndpoint(core, req, res, info, rawPath);
  }
  if (applyCors(core, req, res)) return;
  if (!passesNetworkGate(core, req, info)) {
    res.writeHead(401, { 'Content-Type': 'text/plain', 'Content-Length': 12 });
    res.end('Unauthorized');
    return;
  }
  const key = apiRouteKey(rawPath);
  const badHost = refusedHost(info, core.settings);
  if (badHost !== null) {
    core.log.debug({ host: badHost }, 'request for a host name this server does not answer to refused');
    if (key !== null) return answerRefusedBody(req, res, () => sendApiError(res, apiError('host_not_allowed', hostRefusalText(badHost))));
    res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(hostRefusalText(badHost));
    return;
  }
  if (key !== null) {
    const route = core.routes.get(key);
    label.route = route?.name ?? 'unknown';
    return handleApiHttp(core, intake, req, res, info, key, route);
  }
  return handleOther(core, req, res, info, rawPath, query, label);
}

/** Pages, static files and everything else that is not an API call. */
async function handleOther(core: Core, req: IncomingMessage, res: ServerResponse, info: RequestInfo, rawPath: string, query: string | null, label: RequestLabel): Promise<void> {
  // Everything else sees one canonical path, so no spelling of a path slips past a check (page templates).
  const canonical = canonicalPath(rawPath);
  if (canonical === null) return redirect(res, '/Error/404');
  const pathname = encodePath(canonical);
  req.url = query === null ? pathname : `${pathname}?${query}`;
  if (handleOpenApi(core, req, res, pathname)) return void (label.route = 'openapi');
  if (await handleViewSpecial(core, req, res, info)) return void (label.route = 'view_special');
  if (await handleOAuth(core, req, res, info)) return void (label.route = 'page');
  if (await handlePage(core, req, res, info)) return void (label.route = 'page');
  if ((req.method === 'GET' || req.method === 'HEAD') && (await serveStatic(req, res, pathname))) return void (label.route = 'static');
  if ((req.method === 'GET' || req.method === 'HEAD') && (await serveExtensionFile(core.extensionFiles, req, res, pathname))) return void (label.route = 'extension_file');
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
  const route = core.routes.get(key)?.name ?? 'unknown';
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
    core.metrics.apiCall(route, 'websocket', message);
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
  /** Every response's 'close' listener (one function for all, not a closure per request). */
  function answered(this: TrackedResponse): void {
    inFlight.delete(this);
    const now = performance.now();
    const connection = this.openConnection;
    if (connection) {
      connection.busy--;
      connection.idleSince = now;
    }
    if (this.writableFinished && core.stopping) answeredWhileStopping++;
    core.metrics.request(this.route, this.writableFinished ? this.statusCode : 0, (now - this.started) / 1000);
  }
  const server = createServer(
    { ServerResponse: TrackedResponse as typeof ServerResponse, maxHeaderSize: 1024 * 1024, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
    (req, response) => {
      if (guard.refused.has(req.socket)) return;
      const res = response as TrackedResponse;
      res.started = performance.now();
      const connection = connections.get(req.socket);
      if (connection) connection.busy++;
      res.openConnection = connection;
      inFlight.add(res);
      // Once stopping, every answer closes its connection, so a client's next request goes to a new one.
      if (core.stopping) res.setHeader('Connection', 'close');
      res.on('close', answered);
      let pending: Promise<void> | void;
      try {
        pending = handleRequest(core, intake, req, res, res);
      } catch (err) {
        return requestFailed(req, res, err);
      }
      pending?.catch((err: unknown) => requestFailed(req, res, err));
    },
  );
  function requestFailed(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    // A client that leaves mid-request is the client's doing: a debug line, no stack.
    if (err instanceof ClientGone) {
      core.log.debug({ url: req.url, why: err.message }, 'client left mid-request');
      res.destroy();
      return;
    }
    core.log.error({ err, url: req.url }, 'request failed');
    if (!res.headersSent) sendApiError(res, apiError('internal_error'), true);
    else res.destroy();
  }
  /** Answers under way, and every open connection (HTTP or WebSocket), for the graceful shutdown. */
  const inFlight = new Set<ServerResponse>();
  let answeredWhileStopping = 0;
  const connections = new Map<Socket, ConnectionState>();
  server.on('connection', (socket: Socket) => {
    connections.set(socket, { busy: 0, idleSince: performance.now(), upgraded: false });
    socket.once('close', () => connections.delete(socket));
  });
  const trustedProxies = (): string[] => core.settings.list('Network.TrustedProxies');
  const guard = new ConnectionGuard(server, { perAddress: CONNECTIONS_PER_ADDRESS, total: totalConnectionCap(), exempt: (a) => trustedProxies().includes(a) }, core.log);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const connection = connections.get(req.socket);
    if (connection) connection.upgraded = true;
    if (guard.refused.has(req.socket)) return;
    const info = requestInfo(req, core.settings);
    const key = apiRouteKey(splitUrl(req.url)[0]);
    if (key === null) return void socket.destroy();
    if (core.stopping) {
      const text = JSON.stringify(apiError('server_busy', 'The server is shutting down; connect again.').body);
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
      return;
    }
    if (!passesNetworkGate(core, req, info)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nUnauthorized');
      return;
    }
    const badHost = refusedHost(info, core.settings);
    if (badHost !== null) {
      const text = JSON.stringify(apiError('host_not_allowed', hostRefusalText(badHost)).body);
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
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
  let stopping: Promise<ShutdownReport> | undefined;
  const shutdown = async (options: ShutdownOptions): Promise<ShutdownReport> => {
    const started = performance.now();
    core.beginStopping();
    // Within what a timer can wait (about 24 days).
    const graceMs = Math.min(Math.max(0, options.graceSeconds ?? core.settings.int('Network.ShutdownGraceSeconds')) * 1000, 2 ** 31 - 1);
    const underWay = inFlight.size;
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    let websockets = 0;
    for (const ws of wss.clients) {
      websockets++;
      ws.close(1001, 'The server is shutting down.');
    }
    // net.Server's close: the listener stops at once, but http.Server's own close would also cut every
    // connection it thinks idle, including one whose request is already on its way in the socket buffer.
    const drained = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
    const idleClose = setInterval(() => {
      const now = performance.now();
      for (const [socket, c] of connections) if (c.busy === 0 && !c.upgraded && now - c.idleSince >= SHUTDOWN_IDLE_CLOSE_MS) socket.destroy();
    }, SHUTDOWN_SWEEP_MS);
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<boolean>((resolve) => (graceTimer = setTimeout(() => resolve(true), graceMs)));
    const cutNeeded = await Promise.race([drained.then(() => false), graceOver]);
    clearInterval(idleClose);
    clearTimeout(graceTimer);
    let cut = 0;
    if (cutNeeded) {
      cut = connections.size;
      for (const ws of wss.clients) ws.terminate();
      for (const socket of connections.keys()) socket.destroy();
      await drained;
    }
    // http.Server's close now only stops its timeout checks: the listener and every connection are gone.
    server.close();
    await intake.close();
    await core.close();
    const report: ShutdownReport = { answered: answeredWhileStopping, cut, websockets };
    const seconds = Math.round((performance.now() - started) / 100) / 10;
    core.log.info(
      { ...report, underWay, seconds, reason: options.reason },
      `swarmcore stopped${options.reason ? ` on ${options.reason}` : ''} in ${seconds} s: ${report.answered} requests answered while stopping, ${websockets} WebSockets closed with 1001, ${cut === 0 ? 'no connection cut' : `${cut} connections cut after the ${graceMs / 1000} s grace period`}`,
    );
    return report;
  };
  return {
    core,
    server,
    host,
    port: actualPort,
    url,
    shutdown(options: ShutdownOptions = {}) {
      if (closing && !stopping) return closing.then(() => ({ answered: 0, cut: 0, websockets: 0 }));
      stopping ??= shutdown(options);
      return stopping;
    },
    close() {
      if (stopping) return stopping.then(() => undefined);
      core.beginStopping();
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
