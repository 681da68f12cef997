// The typed API client, exported as `swarmcore/client` (README.md, "Calling it from TypeScript"). One method per
// built-in route, generated from the route declarations (routes.generated.ts); `call` and `stream` for routes an
// extension adds. Runs in browsers and in Node 20: it uses only the globals `fetch`, `crypto.subtle` and
// `WebSocket` (Node 20 has no global WebSocket: pass the `ws` package's constructor as the `WebSocket` option),
// and imports nothing but the files of this folder (test/client.test.ts checks both).
//
// Errors (docs/COMPATIBILITY.md, error shapes): every answer with an `error` or `error_id` field is thrown as a
// SwarmApiError, whatever its HTTP status: hard errors (an `error_id`, mostly HTTP 4xx) and soft ones (only an
// `error` text, HTTP 200). Answers that report a refusal in other fields are results, not errors: AddNewPreset's
// and DuplicatePreset's `preset_fail`, DeletePreset's `success: false`.
import { BUILT_IN_ROUTES, BuiltInRouteMethods, type LoginParams, type LoginResult, type RegisterBasicParams, type RegisterBasicResult } from './routes.generated.js';
import { cleanUserId, prehashPassword } from './prehash.js';

export type * from './routes.generated.js';
export { cleanUserId, prehashPassword };

/** The login cookie the server sets on Login and clears on Logout. */
const TOKEN_COOKIE = 'swarm_token';

/** An error answer of the server (or a WebSocket route's error message). */
export class SwarmApiError extends Error {
  constructor(
    message: string,
    /** The answer's `error_id`; null for a soft error (only an `error` text). */
    readonly errorId: string | null,
    /** The HTTP status of the answer; 0 for an error message of a WebSocket route. */
    readonly status: number,
    /** The route that answered. */
    readonly route: string,
    /** The whole answer as the server sent it. */
    readonly body: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'SwarmApiError';
  }
}

/** The part of a WebSocket (the browser's, or the `ws` package's) the client uses. */
export interface WebSocketLike {
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  send(data: string): void;
  close(code?: number): void;
}

/** A WebSocket constructor: the browser's global one, or the `ws` package's default export in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) => WebSocketLike;

export interface SwarmClientOptions {
  /** Where the server is, e.g. `http://127.0.0.1:7801`; in a page of the server itself, `''` (same origin). */
  baseUrl: string;
  /** A session to start with; without one, the first call gets a new session (GetNewSession). */
  sessionId?: string;
  /**
   * A login token (from CreateAuthToken, or the `swarm_token` cookie), sent as the `swarm_token` cookie. Outside
   * browsers only: a browser keeps the cookie Login sets itself and does not let scripts send cookies.
   */
  token?: string;
  /** Extra headers for every call, e.g. `Authorization` when the server sets Network.RequiredAuthorization. */
  headers?: Record<string, string>;
  /** The WebSocket constructor for WebSocket routes; the global one by default (browsers, Node 22). */
  WebSocket?: WebSocketConstructor;
  /** The fetch to use; the global one by default. */
  fetch?: typeof fetch;
  /** Whether a browser sends its cookies with calls: `same-origin` by default, `include` for another origin. */
  credentials?: 'omit' | 'same-origin' | 'include';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The route key the server matches names by (ASCII lower case). */
const routeKey = (name: string): string => name.replace(/[A-Z]/g, (c) => c.toLowerCase());

const BUILT_IN_BY_KEY = new Map(Object.entries(BUILT_IN_ROUTES).map(([name, info]) => [routeKey(name), info]));

/** The error an answer carries, or null when it is a result. */
function answerError(route: string, status: number, body: Record<string, unknown>): SwarmApiError | null {
  if (!('error' in body) && !('error_id' in body)) return null;
  const errorId = typeof body.error_id === 'string' ? body.error_id : null;
  const message = typeof body.error === 'string' && body.error !== '' ? body.error : (errorId ?? `${route} failed`);
  return new SwarmApiError(message, errorId, status, route, body);
}

/** The login token a response sets: a value, null when it clears the cookie, undefined when it says nothing. */
function tokenFromResponse(headers: Headers): string | null | undefined {
  const list = (headers as { getSetCookie?: () => string[] }).getSetCookie?.() ?? [];
  let token: string | null | undefined;
  for (const cookie of list) {
    const m = new RegExp(`^\\s*${TOKEN_COOKIE}=([^;]*)`).exec(cookie);
    if (!m) continue;
    token = m[1] === '' || /;\s*max-age=0\s*(;|$)/i.test(cookie) ? null : m[1]!;
  }
  return token;
}

type Queued = { value: Record<string, unknown> } | { error: Error } | { done: true };

export class SwarmClient extends BuiltInRouteMethods {
  readonly baseUrl: string;
  #session: string | null;
  #sessionRequest: Promise<string> | null = null;
  #token: string | null;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;
  readonly #WebSocket: WebSocketConstructor | undefined;
  readonly #credentials: 'omit' | 'same-origin' | 'include';

  constructor(options: SwarmClientOptions) {
    super();
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#session = options.sessionId ?? null;
    this.#token = options.token ?? null;
    this.#headers = { ...options.headers };
    this.#fetch = options.fetch ?? ((...args) => fetch(...args));
    this.#WebSocket = options.WebSocket;
    this.#credentials = options.credentials ?? 'same-origin';
  }

  /**
   * The session calls use: null until the first call gets one; `getNewSession()`'s answer becomes it; Login and
   * Logout drop it. Set it to use another session.
   */
  get sessionId(): string | null {
    return this.#session;
  }

  set sessionId(id: string | null) {
    this.#session = id;
  }

  /** The login token this client sends (outside browsers), from the options or the last Login. */
  get token(): string | null {
    return this.#token;
  }

  set token(token: string | null) {
    this.#token = token;
  }

  /**
   * Logs in and keeps the login: the password is prehashed as the login page does. Later sessions belong to
   * this user (the current session is dropped). With one object argument, the password must be prehashed already.
   */
  override login(username: string, password: string): Promise<LoginResult>;
  override login(params: LoginParams): Promise<LoginResult>;
  override async login(user: string | LoginParams, password?: string): Promise<LoginResult> {
    return super.login(typeof user === 'string' ? { username: user, password: await prehashPassword(user, password ?? '') } : user);
  }

  /** Creates an account (the password is prehashed as the login page does); does not log in. */
  override registerBasic(username: string, password: string): Promise<RegisterBasicResult>;
  override registerBasic(params: RegisterBasicParams): Promise<RegisterBasicResult>;
  override async registerBasic(user: string | RegisterBasicParams, password?: string): Promise<RegisterBasicResult> {
    return super.registerBasic(typeof user === 'string' ? { username: user, password: await prehashPassword(user, password ?? '') } : user);
  }

  /**
   * Calls a route by name, e.g. one an extension added; error answers are thrown as SwarmApiError. A session is
   * sent unless the route is a built-in sessionless one.
   */
  call<R = Record<string, unknown>>(route: string, params: Record<string, unknown> = {}): Promise<R> {
    return this.callRoute<R>(route, params, BUILT_IN_BY_KEY.get(routeKey(route))?.sessionless ?? false);
  }

  /** Opens a WebSocket route by name, e.g. one an extension added, and yields its messages. */
  stream<M = Record<string, unknown>>(route: string, params: Record<string, unknown> = {}): AsyncIterable<M> {
    return this.streamRoute<M>(route, params);
  }

  protected async callRoute<R>(route: string, params: object, sessionless: boolean): Promise<R> {
    if (sessionless) return (await this.#post(route, params)) as R;
    const session = await this.#currentSession();
    try {
      return (await this.#post(route, { ...params, session_id: session })) as R;
    } catch (err) {
      if (!(err instanceof SwarmApiError) || err.errorId !== 'invalid_session_id') throw err;
      return (await this.#post(route, { ...params, session_id: await this.#renewSession(session) })) as R;
    }
  }

  protected async *streamRoute<M>(route: string, params: object): AsyncIterable<M> {
    const WebSocketClass = this.#WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketClass) {
      throw new Error(`${route} is a WebSocket route, and this runtime has no global WebSocket: pass one, e.g. new SwarmClient({ baseUrl, WebSocket: (await import('ws')).default }) in Node 20`);
    }
    const session = await this.#currentSession();
    let started = false;
    try {
      for await (const message of this.#socket(WebSocketClass, route, { ...params, session_id: session })) {
        started = true;
        yield message as M;
      }
      return;
    } catch (err) {
      if (started || !(err instanceof SwarmApiError) || err.errorId !== 'invalid_session_id') throw err;
    }
    // The session was gone before the route ran: once more with a new one.
    for await (const message of this.#socket(WebSocketClass, route, { ...params, session_id: await this.#renewSession(session) })) yield message as M;
  }

  /** The session to call with: the current one, or a new one (concurrent first calls share one GetNewSession). */
  #currentSession(): Promise<string> {
    if (this.#session !== null) return Promise.resolve(this.#session);
    if (!this.#sessionRequest) {
      this.#sessionRequest = this.getNewSession()
        .then((answer) => answer.session_id)
        .finally(() => {
          this.#sessionRequest = null;
        });
    }
    return this.#sessionRequest;
  }

  /** A new session in place of `stale`, unless another call has replaced it already. */
  #renewSession(stale: string): Promise<string> {
    if (this.#session === stale) this.#session = null;
    return this.#currentSession();
  }

  #headersFor(json: boolean): Record<string, string> {
    const headers: Record<string, string> = { ...this.#headers };
    if (json) headers['Content-Type'] = 'application/json';
    if (this.#token !== null) headers.Cookie = `${TOKEN_COOKIE}=${this.#token}`;
    return headers;
  }

  async #post(route: string, body: object): Promise<Record<string, unknown>> {
    const res = await this.#fetch(`${this.baseUrl}/API/${encodeURIComponent(route)}`, {
      method: 'POST',
      headers: this.#headersFor(true),
      body: JSON.stringify(body),
      credentials: this.#credentials,
    });
    const token = tokenFromResponse(res.headers);
    if (token !== undefined) this.#token = token;
    const text = await res.text();
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = undefined;
    }
    if (!isObject(answer)) throw new SwarmApiError(`${route} answered HTTP ${res.status} without a JSON object`, null, res.status, route, {});
    const error = answerError(route, res.status, answer);
    if (error) throw error;
    if (!res.ok) throw new SwarmApiError(`${route} answered HTTP ${res.status}`, null, res.status, route, answer);
    this.#noteAnswer(route, answer);
    return answer;
  }

  /** What a successful answer changes for this client: the session it holds. */
  #noteAnswer(route: string, answer: Record<string, unknown>): void {
    const key = routeKey(route);
    if (key === 'getnewsession' && typeof answer.session_id === 'string') this.#session = answer.session_id;
    // The old session still belongs to whoever called before: the next call gets one for the new login.
    if (key === 'login') this.#session = null;
    if (key === 'logout') {
      this.#session = null;
      this.#token = null;
    }
  }

  #socketUrl(route: string): string {
    const location = (globalThis as { location?: { href: string } }).location;
    const url = new URL(`${this.baseUrl}/API/${encodeURIComponent(route)}`, location?.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.href;
  }

  /** One WebSocket call: sends the input, yields each message until the server closes; an error message throws. */
  async *#socket(WebSocketClass: WebSocketConstructor, route: string, input: object): AsyncGenerator<Record<string, unknown>> {
    const url = this.#socketUrl(route);
    const headers = this.#headersFor(false);
    // Only an injected constructor (the `ws` package) takes headers; a browser's sends its own cookies.
    const ws = this.#WebSocket && Object.keys(headers).length > 0 ? new WebSocketClass(url, [], { headers }) : new WebSocketClass(url);
    const queue: Queued[] = [];
    let wake: (() => void) | null = null;
    let closed = false;
    const push = (item: Queued): void => {
      queue.push(item);
      wake?.();
      wake = null;
    };
    ws.onopen = () => ws.send(JSON.stringify(input));
    ws.onmessage = (event: { data: unknown }) => {
      let message: unknown;
      try {
        message = JSON.parse(String(event.data));
      } catch {
        message = undefined;
      }
      if (!isObject(message)) return push({ error: new SwarmApiError(`${route} sent a message that is not a JSON object`, null, 0, route, {}) });
      push(answerError(route, 0, message) ? { error: answerError(route, 0, message)! } : { value: message });
    };
    ws.onerror = () => push({ error: new Error(`The WebSocket of ${route} failed (refused, or the connection broke).`) });
    ws.onclose = (event: { code: number }) => {
      closed = true;
      push(event.code === 1000 ? { done: true } : { error: new Error(`The WebSocket of ${route} closed with code ${event.code}.`) });
    };
    try {
      for (;;) {
        if (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        const item = queue.shift()!;
        if ('error' in item) throw item.error;
        if ('done' in item) return;
        yield item.value;
      }
    } finally {
      if (!closed) ws.close(1000);
    }
  }
}
