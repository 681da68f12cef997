// The API envelope (reference/01 §2): session resolution, route lookup, transport and permission checks,
// parameter binding and the outcome table of §2.11. HTTP and WebSocket calls share `dispatch`.
import type { Logger } from 'pino';
import type { Core } from '../core.js';
import type { Session } from '../accounts/session.js';
import { ApiError, apiError } from './errors.js';
import { bindParams, tokenText } from './params.js';
import type { RequestInfo, ResponseControl, RouteContext, RouteOutput, SocketChannel } from './route.js';

export interface DispatchResult {
  status: number;
  /** null = the handler returned nothing (HTTP answers no_result; a socket just closes). */
  body: RouteOutput | null;
}

export interface DispatchInput {
  key: string;
  input: Record<string, unknown>;
  request: RequestInfo;
  response: ResponseControl;
  socket: SocketChannel | null;
  log: Logger;
}

/** The value the client sent as its session id: the body's `session_id`, else the X-Session-ID header. */
function sessionIdOf(input: Record<string, unknown>, request: RequestInfo): string | undefined {
  if (Object.prototype.hasOwnProperty.call(input, 'session_id')) return tokenText(input.session_id);
  const header = request.headers['x-session-id'];
  return Array.isArray(header) ? header[0] : header;
}

/** The envelope's session rule; the HTTP intake also uses it to check a session before reading a large body. */
export async function resolveSession(core: Core, input: Record<string, unknown>, request: RequestInfo): Promise<Session> {
  const id = sessionIdOf(input, request);
  if (id === undefined) throw apiError('basic_api', 'missing session id');
  const session = id === '' ? null : await core.sessions.get(id);
  if (!session) throw apiError('invalid_session_id');
  // With accounts required, a session stands only while its login token does (token revocation ends sessions
  // through events), or, for a session made by localhost bypass, while the request still qualifies for it.
  if (core.settings.bool('UserAuthorization.AuthorizationRequired') && session.originToken === null && !request.localhostBypass) {
    await core.sessions.end([session.id]);
    throw apiError('invalid_session_id');
  }
  return session;
}

export async function dispatch(core: Core, d: DispatchInput): Promise<DispatchResult> {
  try {
    const route = core.routes.get(d.key);
    const session = route?.sessionless ? null : await resolveSession(core, d.input, d.request);
    if (!route) throw apiError('bad_route');
    if (route.websocket && !d.socket) throw apiError('bad_request_method', 'This API route needs a WebSocket, but the request is plain HTTP.');
    if (!route.websocket && d.socket) throw apiError('bad_request_method', 'This API route needs plain HTTP, but the request is a WebSocket.');
    if (session) {
      core.sessions.touch(session);
      const access = await core.users.getAccess(session.userId);
      if (!access) {
        await core.sessions.end([session.id]);
        throw apiError('invalid_session_id');
      }
      if (!access.has(route.permission!)) throw apiError('bad_permissions');
    }
    const params = bindParams(route.params, d.input);
    const ctx: RouteContext = { core, session, request: d.request, response: d.response, socket: d.socket, log: d.log };
    const body = await (route.handler as (c: RouteContext, p: unknown) => Promise<RouteOutput | null> | RouteOutput | null)(ctx, params);
    if (body && 'error' in body) d.log.warn({ route: route.name, error: body.error, error_id: body.error_id }, 'route answered with an error');
    return { status: 200, body: body ?? null };
  } catch (err) {
    if (err instanceof ApiError) return { status: err.status, body: err.body };
    d.log.error({ err, route: d.key }, 'API call failed');
    const e = apiError('internal_error');
    return { status: e.status, body: e.body };
  }
}
