// A route is declared once, as data: this declaration drives dispatch, permission checks, parameter binding
// and the generated API docs.
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Session } from '../accounts/session.js';
import type { SessionWork } from '../generation/session-work.js';
import type { Services } from '../services.js';
import { bindParams, type Fields, type Params, type ParamValues } from './params.js';

export type RouteOutput = Record<string, unknown>;

export interface RequestInfo {
  /** The socket's peer address, IPv4-mapped addresses shown as plain IPv4. */
  readonly socketAddress: string;
  /** The client address: the socket address, or the forwarded one when the socket is a trusted proxy. */
  readonly clientAddress: string;
  /** The reference's origin-address string: socket address plus ` (via ...)` forwarded values. */
  readonly ipString: string;
  readonly headers: IncomingHttpHeaders;
  readonly cookies: Readonly<Record<string, string>>;
  /** True when the request reached the server (or a trusted proxy) over HTTPS. */
  readonly secure: boolean;
  /** True when this request counts as the local user under `UserAuthorization.AllowLocalhostBypass`. */
  readonly localhostBypass: boolean;
}

export interface CookieOptions {
  maxAgeSeconds: number;
  httpOnly?: boolean;
  /** Default `/`. */
  path?: string;
}

/** The response side a handler may touch besides its JSON output. */
export interface ResponseControl {
  setCookie(name: string, value: string, options: CookieOptions): void;
  clearCookie(name: string, path?: string): void;
}

/** A WebSocket route's channel: messages go out as JSON text frames; `signal` aborts when the peer leaves. */
export interface SocketChannel {
  send(message: RouteOutput): Promise<void>;
  readonly signal: AbortSignal;
}

/**
 * What a handler gets: the domain services (`ctx.users`, `ctx.presets`, `ctx.settings`, ...; see
 * src/services.ts) and this call's session, request, response, socket and logger.
 */
export interface RouteContext extends Services {
  /** Null only for sessionless routes. */
  readonly session: Session | null;
  readonly request: RequestInfo;
  readonly response: ResponseControl;
  readonly log: Logger;
}

export interface SessionContext extends RouteContext {
  readonly session: Session;
  /** This session's generation work on this instance: hold a claim on it while generating. */
  readonly work: SessionWork;
}

/** What a WebSocket route's handler gets: its socket is always there. */
export interface SocketContext extends SessionContext {
  readonly socket: SocketChannel;
}

/** What the envelope hands a route for one call; the route checks that it has what its handler needs. */
export interface RouteCall extends RouteContext {
  /** Set for calls that arrived over a WebSocket. */
  readonly socket: SocketChannel | null;
}

/**
 * A route's answer, documented: an object's fields, or a list of alternatives (for a WebSocket route, the kinds
 * of message it sends). Every route may also answer `{"error": ...}`; the docs say so once.
 */
export type RouteOutputShape = Fields | readonly Fields[];

/** `{"success": true}`: the answer of most routes that change something. */
export const SUCCESS_OUTPUT: Fields = { success: { type: 'bool', description: 'The change was made.', values: [true] } };

type HandlerResult = Promise<RouteOutput | null> | RouteOutput | null;

interface RouteDeclBase<P extends Params> {
  /** The API name, e.g. `GetNewSession`; matched case-insensitively. */
  name: string;
  /** The doc group, e.g. `BasicAPIFeatures`. */
  group: string;
  description: string;
  /** Marks `(non-final)` routes in the docs. */
  nonFinal?: boolean;
  /** True when calling the route counts as the session being used (reference isUserUpdate). */
  userUpdate: boolean;
  params: P;
  /** The output's shape, for the docs and OpenAPI. */
  output: RouteOutputShape;
  /** An example output, for the docs (routes answering SUCCESS_OUTPUT get `"success": true` without one). */
  example?: string;
}

export interface SessionRouteDecl<P extends Params> extends RouteDeclBase<P> {
  sessionless?: false;
  /** The permission id the session's user must hold; it must be registered before the route. */
  permission: string;
  handler(ctx: SessionContext, params: ParamValues<P>): HandlerResult;
}

export interface SessionlessRouteDecl<P extends Params> extends RouteDeclBase<P> {
  sessionless: true;
  permission: null;
  handler(ctx: RouteContext, params: ParamValues<P>): HandlerResult;
}

export interface SocketRouteDecl<P extends Params> extends RouteDeclBase<P> {
  /** The permission id the session's user must hold; it must be registered before the route. */
  permission: string;
  handler(ctx: SocketContext, params: ParamValues<P>): HandlerResult;
}

/** A declared route as the registry, the envelope and the docs see it; `P` stays known to its declarer. */
export interface RouteDef<P extends Params = Params> {
  readonly name: string;
  readonly group: string;
  readonly description: string;
  readonly nonFinal: boolean;
  readonly userUpdate: boolean;
  readonly sessionless: boolean;
  /** Null exactly for sessionless routes. */
  readonly permission: string | null;
  /** True for routes opened as a WebSocket at /API/<name>. */
  readonly websocket: boolean;
  readonly params: P;
  readonly output: RouteOutputShape;
  readonly example: string | undefined;
  /**
   * Binds the call's parameters and runs the handler: its answer as the handler gives it, at once or as a
   * promise. A bad parameter or a handler's error may be thrown instead of rejected.
   */
  run(call: RouteCall, input: Record<string, unknown>): HandlerResult;
}

function describe<P extends Params>(decl: RouteDeclBase<P>, permission: string | null, websocket: boolean): Omit<RouteDef<P>, 'run'> {
  const bodies = Object.values(decl.params).filter((d) => d.type === 'body').length;
  if (bodies > 1) throw new Error(`API route '${decl.name}' declares ${bodies} whole-body parameters; one receives the body`);
  return {
    name: decl.name,
    group: decl.group,
    description: decl.description,
    nonFinal: decl.nonFinal ?? false,
    userUpdate: decl.userUpdate,
    sessionless: permission === null,
    permission,
    websocket,
    params: decl.params,
    output: decl.output,
    // The plain success answer needs no hand-written example: it is always the same one.
    example: decl.example ?? (decl.output === SUCCESS_OUTPUT ? '"success": true' : undefined),
  };
}

/** The call as a session route's handler sees it; the envelope resolves the session before any such route runs. */
function sessionCall(call: RouteCall, name: string): RouteCall & SessionContext {
  if (!hasSession(call)) throw new Error(`API route '${name}' was called without a session`);
  return call;
}

function hasSession(call: RouteCall): call is RouteCall & SessionContext {
  return call.session !== null;
}

function hasSocket(call: RouteCall & SessionContext): call is RouteCall & SocketContext {
  return call.socket !== null;
}

/** Declares a plain HTTP route; the handler receives its parameters typed as declared. */
export function defineRoute<P extends Params>(decl: SessionRouteDecl<P>): RouteDef<P>;
export function defineRoute<P extends Params>(decl: SessionlessRouteDecl<P>): RouteDef<P>;
export function defineRoute<P extends Params>(decl: SessionRouteDecl<P> | SessionlessRouteDecl<P>): RouteDef<P> {
  if (decl.sessionless) {
    const handler = decl.handler;
    return { ...describe(decl, null, false), run: (call, input) => handler(call, bindParams(decl.params, input)) };
  }
  if (!decl.permission) throw new Error(`API route '${decl.name}' needs a permission`);
  const handler = decl.handler;
  return { ...describe(decl, decl.permission, false), run: (call, input) => handler(sessionCall(call, decl.name), bindParams(decl.params, input)) };
}

/** Declares a route opened as a WebSocket at /API/<name>: its handler always has `ctx.socket`. */
export function defineSocketRoute<P extends Params>(decl: SocketRouteDecl<P>): RouteDef<P> {
  if (!decl.permission) throw new Error(`API route '${decl.name}' needs a permission`);
  const handler = decl.handler;
  return {
    ...describe(decl, decl.permission, true),
    run: (call, input) => {
      const ctx = sessionCall(call, decl.name);
      if (!hasSocket(ctx)) throw new Error(`API route '${decl.name}' was called without its WebSocket`);
      return handler(ctx, bindParams(decl.params, input));
    },
  };
}

/** Route names are matched by ASCII-lowercased key. */
export function routeKey(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

export class RouteRegistry {
  private readonly byKey = new Map<string, RouteDef>();

  /** `permissions` is where a route's permission id must already be registered (a typo must not pass). */
  constructor(private readonly permissions: { get(id: string): unknown }) {}

  add(route: RouteDef): void {
    const key = routeKey(route.name);
    if (this.byKey.has(key)) throw new Error(`API route '${route.name}' is registered twice`);
    if (!route.sessionless && !route.permission) throw new Error(`API route '${route.name}' needs a permission`);
    if (route.permission !== null && this.permissions.get(route.permission) === undefined) {
      throw new Error(`API route '${route.name}' names the permission '${route.permission}', which is not registered (register permissions before the routes that use them)`);
    }
    this.byKey.set(key, route);
  }

  get(key: string): RouteDef | undefined {
    return this.byKey.get(key);
  }

  all(): RouteDef[] {
    return [...this.byKey.values()];
  }
}
