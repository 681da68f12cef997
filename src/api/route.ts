// A route is declared once, as data: this declaration drives dispatch, permission checks, parameter binding
// and the generated API docs.
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Session } from '../accounts/session.js';
import type { SessionWork } from '../generation/session-work.js';
import type { Services } from '../services.js';
import type { ParamDef, ParamValues } from './params.js';

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
}

/** The response side a handler may touch besides its JSON output. */
export interface ResponseControl {
  setCookie(name: string, value: string, options: CookieOptions): void;
  clearCookie(name: string): void;
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
  /** Set for WebSocket routes. */
  readonly socket: SocketChannel | null;
  readonly log: Logger;
}

export interface SessionContext extends RouteContext {
  readonly session: Session;
  /** This session's generation work on this instance: hold a claim on it while generating. */
  readonly work: SessionWork;
}

interface RouteBase<P extends Record<string, ParamDef>> {
  /** The API name, e.g. `GetNewSession`; matched case-insensitively. */
  name: string;
  /** The doc group, e.g. `BasicAPIFeatures`. */
  group: string;
  description: string;
  /** Marks `(non-final)` routes in the docs. */
  nonFinal?: boolean;
  /** True when calling the route counts as the session being used (reference isUserUpdate). */
  userUpdate: boolean;
  /** True for routes opened as a WebSocket at /API/<name>. */
  websocket?: boolean;
  params: P;
  /** An example output, for the docs. */
  output?: string;
}

export interface SessionRoute<P extends Record<string, ParamDef>> extends RouteBase<P> {
  sessionless?: false;
  /** The permission id the session's user must hold. */
  permission: string;
  handler(ctx: SessionContext, params: ParamValues<P>): Promise<RouteOutput | null> | RouteOutput | null;
}

export interface SessionlessRoute<P extends Record<string, ParamDef>> extends RouteBase<P> {
  sessionless: true;
  permission: null;
  handler(ctx: RouteContext, params: ParamValues<P>): Promise<RouteOutput | null> | RouteOutput | null;
}

export type RouteDef<P extends Record<string, ParamDef> = Record<string, ParamDef>> = SessionRoute<P> | SessionlessRoute<P>;

/** Identity helper that keeps the parameter types of a declaration for its handler. */
export function defineRoute<P extends Record<string, ParamDef>>(def: SessionRoute<P>): RouteDef;
export function defineRoute<P extends Record<string, ParamDef>>(def: SessionlessRoute<P>): RouteDef;
export function defineRoute(def: RouteDef): RouteDef {
  return def;
}

/** Route names are matched by ASCII-lowercased key. */
export function routeKey(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

export class RouteRegistry {
  private readonly byKey = new Map<string, RouteDef>();

  add(route: RouteDef): void {
    const key = routeKey(route.name);
    if (this.byKey.has(key)) throw new Error(`API route '${route.name}' is registered twice`);
    if (!route.sessionless && !route.permission) throw new Error(`API route '${route.name}' needs a permission`);
    this.byKey.set(key, route);
  }

  get(key: string): RouteDef | undefined {
    return this.byKey.get(key);
  }

  all(): RouteDef[] {
    return [...this.byKey.values()];
  }
}
