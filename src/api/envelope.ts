// The API envelope (docs/COMPATIBILITY.md): session resolution, route lookup, transport and permission checks,
// parameter binding and the reference's outcome table. HTTP and WebSocket calls share `dispatch`.
import type { Logger } from 'pino';
import type { Session } from '../accounts/session.js';
import type { UserAccess } from '../accounts/users.js';
import type { Services } from '../services.js';
import { DatabaseTimeoutError } from '../store/errors.js';
import { ApiError, apiError } from './errors.js';
import { memberText } from '../util/token-text.js';
import type { RequestInfo, ResponseControl, RouteCall, RouteDef, RouteOutput, RouteRegistry, SessionContext, SocketChannel } from './route.js';
import type { SessionWork } from '../generation/session-work.js';

/** What dispatch needs from the server: its routes and its services (the Core has both). */
export interface ApiHost {
  readonly routes: RouteRegistry;
  readonly services: Services;
}

export interface DispatchResult {
  status: number;
  /** null = the handler returned nothing (HTTP answers no_result; a socket just closes). */
  body: RouteOutput | null;
}

export interface DispatchInput {
  key: string;
  /** The route of `key` when the caller has already looked it up (else dispatch does). */
  route?: RouteDef;
  input: Record<string, unknown>;
  request: RequestInfo;
  response: ResponseControl;
  socket: SocketChannel | null;
  log: Logger;
}

/** The value the client sent as its session id: the body's `session_id`, else the X-Session-ID header. */
function sessionIdOf(input: Record<string, unknown>, request: RequestInfo): string | undefined {
  if (Object.prototype.hasOwnProperty.call(input, 'session_id')) return memberText(input, 'session_id');
  const header = request.headers['x-session-id'];
  return Array.isArray(header) ? header[0] : header;
}

/** The envelope's session rule; the HTTP intake also uses it to check a session before reading a large body. */
export async function resolveSession(s: Services, input: Record<string, unknown>, request: RequestInfo): Promise<Session> {
  return sessionOf(s, input, request);
}

/**
 * resolveSession without a promise when the session is live in memory (the common call); may throw instead of
 * rejecting.
 */
function sessionOf(s: Services, input: Record<string, unknown>, request: RequestInfo): Session | Promise<Session> {
  const id = sessionIdOf(input, request);
  if (id === undefined) throw apiError('basic_api', 'missing session id');
  if (id === '') throw apiError('invalid_session_id');
  const cached = s.sessions.cached(id);
  if (cached !== undefined) return admitted(s, cached, request);
  return s.sessions.get(id).then((session) => {
    if (!session) throw apiError('invalid_session_id');
    return admitted(s, session, request);
  });
}

/**
 * With accounts required, a session stands only while its login token does (token revocation ends sessions
 * through events), or, for a session made by localhost bypass, while the request still qualifies for it.
 */
function admitted(s: Services, session: Session, request: RequestInfo): Session | Promise<Session> {
  if (s.settings.bool('UserAuthorization.AuthorizationRequired') && session.originToken === null && !request.localhostBypass) {
    return s.sessions.end([session.id]).then(() => {
      throw apiError('invalid_session_id');
    });
  }
  return session;
}

/** The call-specific parts of a handler's context; the services come from its prototype. */
interface CallParts {
  session: Session | null;
  request: RequestInfo;
  response: ResponseControl;
  socket: SocketChannel | null;
  log: Logger;
}
type CallConstructor = new (session: Session | null, d: DispatchInput) => CallParts;

/**
 * Per Services object, a class whose prototype is that object: a call's context is one small fixed-shape object
 * (five fields) that sees every service through its prototype, instead of a copy of all of them per call.
 */
const callClasses = new WeakMap<Services, CallConstructor>();

function callClassOf(s: Services): CallConstructor {
  let Call = callClasses.get(s);
  if (Call) return Call;
  Call = class implements CallParts {
    session: Session | null;
    request: RequestInfo;
    response: ResponseControl;
    socket: SocketChannel | null;
    log: Logger;
    constructor(session: Session | null, d: DispatchInput) {
      this.session = session;
      this.request = d.request;
      this.response = d.response;
      this.socket = d.socket;
      this.log = d.log;
    }
    /** This session's generation work, looked up only when a handler reads it. */
    get work(): SessionWork {
      if (!this.session) throw new Error('a sessionless call has no session work');
      return s.generation.workOf(this.session);
    }
  };
  Object.setPrototypeOf(Call.prototype, s);
  callClasses.set(s, Call);
  return Call;
}

/** The handler's context: the services plus this call's parts; `work` is looked up only when a handler reads it. */
function routeContext(s: Services, session: Session | null, d: DispatchInput): RouteCall | (RouteCall & SessionContext) {
  const Call = callClassOf(s);
  return new Call(session, d) as unknown as RouteCall | (RouteCall & SessionContext);
}

/** The call's session, checked before the route as the reference does. */
function callSession(s: Services, route: RouteDef | undefined, d: DispatchInput): Session | Promise<Session> {
  try {
    const session = sessionOf(s, d.input, d.request);
    return session instanceof Promise ? session.catch((err: unknown) => Promise.reject(sessionFailure(route, d, err))) : session;
  } catch (err) {
    throw sessionFailure(route, d, err);
  }
}

/**
 * Without a session id an unknown route keeps the reference's basic_api answer, but its text says what is wrong
 * (docs/COMPATIBILITY.md#envelope); every other failure stays as it is.
 */
function sessionFailure(route: RouteDef | undefined, d: DispatchInput, err: unknown): unknown {
  if (!route && err instanceof ApiError && err.body.error_id === 'basic_api') return apiError('basic_api', `Unknown API route '${d.key.slice(0, 80)}', and the request has no session id.`);
  return err;
}

/**
 * Runs a call through the envelope. A call whose session and access are in memory and whose handler answers at
 * once is answered without a promise (most calls, GetCurrentStatus among them); the others with one.
 */
export function dispatch(host: ApiHost, d: DispatchInput): DispatchResult | Promise<DispatchResult> {
  const s = host.services;
  try {
    const route = d.route !== undefined ? d.route : host.routes.get(d.key);
    const session = route?.sessionless ? null : callSession(s, route, d);
    const body = session instanceof Promise ? session.then((found) => runRoute(s, route, found, d)) : runRoute(s, route, session, d);
    // A handler may answer with any thenable (an extension's promise library), not only a Promise.
    if (isThenable(body)) return Promise.resolve(body).then((b) => outcome(route!, b, d)).catch((err: unknown) => failure(err, d));
    return outcome(route!, body, d);
  } catch (err) {
    return failure(err, d);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** The route's checks, then its handler. */
function runRoute(s: Services, route: RouteDef | undefined, session: Session | null, d: DispatchInput): RouteOutput | null | Promise<RouteOutput | null> {
  if (!route) throw apiError('bad_route');
  if (route.websocket && !d.socket) throw apiError('bad_request_method', 'This API route needs a WebSocket, but the request is plain HTTP.');
  if (!route.websocket && d.socket) throw apiError('bad_request_method', 'This API route needs plain HTTP, but the request is a WebSocket.');
  if (!session) return route.run(routeContext(s, null, d), d.input);
  s.sessions.touch(session);
  const access = s.users.accessNow(session.userId);
  // A session opened by impersonation stands only while its impersonator may impersonate: checked here on
  // every call (cached), so a missed event cannot keep it alive.
  if (access === undefined || session.impersonatedBy !== null) return checkedAccess(s, session).then((checked) => permitted(s, route, session, checked, d));
  return permitted(s, route, session, access, d);
}

/** The route's permission, then its handler. */
function permitted(s: Services, route: RouteDef, session: Session, access: UserAccess, d: DispatchInput): RouteOutput | null | Promise<RouteOutput | null> {
  if (route.permission !== null && !access.has(route.permission)) throw apiError('bad_permissions');
  return route.run(routeContext(s, session, d), d.input);
}

/** The session's access when it needs the store (not cached yet, or an impersonated session to check). */
async function checkedAccess(s: Services, session: Session): Promise<UserAccess> {
  const access = await s.users.getAccess(session.userId);
  if (!access || (session.impersonatedBy !== null && !(await s.users.mayImpersonate(session.impersonatedBy)))) {
    await s.sessions.end([session.id]);
    throw apiError('invalid_session_id');
  }
  return access;
}

function outcome(route: RouteDef, body: RouteOutput | null, d: DispatchInput): DispatchResult {
  if (body && 'error' in body) d.log.debug({ route: route.name, error: body.error, error_id: body.error_id }, 'route answered with an error');
  return { status: 200, body: body ?? null };
}

function failure(err: unknown, d: DispatchInput): DispatchResult {
  if (err instanceof ApiError) return { status: err.status, body: err.body };
  if (err instanceof DatabaseTimeoutError) {
    d.log.warn({ route: d.key, seconds: err.seconds }, 'the database did not answer in time');
    const e = apiError('internal_error', err.message);
    return { status: e.status, body: e.body };
  }
  d.log.error({ err, route: d.key }, 'API call failed');
  const e = apiError('internal_error');
  return { status: e.status, body: e.body };
}
