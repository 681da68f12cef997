// Talking to the server's API: one session per page, renewed with GetNewSession whenever the server answers
// `invalid_session_id` (at most three times per call, at most one renewal a second, as SwarmUI's client does),
// and every failure turned into an ApiError whose message a person can understand.
import { t } from './i18n.js';

/**
 * The server's error ids, as a type taken from the server's one registry, so the type check (`npm run typecheck`)
 * refuses an id the server does not send and a server id this page has no words for.
 * @typedef {import('../../src/api/errors.js').ErrorId} ServerErrorId
 */
/**
 * Failures the page detects itself: no connection, an answer that is not JSON, no login for a new session.
 * @typedef {'network' | 'http' | 'not_logged_in'} PageErrorId
 */
/** @typedef {ServerErrorId | PageErrorId} ErrorId */

/**
 * Words for each error_id the server can send.
 * @satisfies {Record<ServerErrorId, () => string>}
 */
const ERROR_WORDS = {
  invalid_login: () => t('Invalid username or password.'),
  ratelimit: () => t('Too many attempts. Wait a minute and try again.'),
  invalid_input: () => t('The username needs 3 to 100 characters and the password 8 to 500.'),
  username_exists: () => t('That username is taken.'),
  registration_failed: () => t('The account could not be created.'),
  registration_disabled: () => t('Registration is disabled on this server.'),
  bad_permissions: () => t('You lack permission for this action.'),
  invalid_session_id: () => t('Your session ended and could not be renewed. Reload the page.'),
  internal_error: () => t('An internal error occurred.'),
  basic_api: () => t('The server could not understand the request. Reload the page and try again.'),
  bad_route: () => t('This server does not offer that function; it may be a different version.'),
  bad_request_method: () => t('This server does not offer that function; it may be a different version.'),
  no_result: () => t('The server sent no answer to this request.'),
  bad_impersonate: () => t('You cannot open the server as that user.'),
  invalid_user: () => t('You are not logged in, or your login has expired.'),
  file_not_found: () => t('The file was not found.'),
  server_busy: () => t('The server is busy right now. Wait a moment and try again.'),
  cross_origin: () => t('This page is not allowed to connect to the server from another site.'),
  address_refused: () => t('This address may not read this part of the server.'),
  host_not_allowed: () => t('This server does not answer to the name in the address bar. Open it by its IP address or localhost.'),
};

export class ApiError extends Error {
  /**
   * @param {string} message what a person reads
   * @param {ErrorId | null} errorId the server's error_id, or the page's own reason
   * @param {any} body the server's whole answer
   * @param {number} status the HTTP status
   */
  constructor(message, errorId = null, body = null, status = 0) {
    super(message);
    this.name = 'ApiError';
    this.errorId = errorId;
    this.body = body;
    this.status = status;
  }
}

/**
 * Whether `err` is an ApiError for the reason `id`.
 * @param {unknown} err
 * @param {ErrorId} id
 */
export function failedWith(err, id) {
  return err instanceof ApiError && err.errorId === id;
}

/**
 * Whether a server answer carries the error id `id`.
 * @param {any} body
 * @param {ServerErrorId} id
 */
const answerHas = (body, id) => body !== null && typeof body === 'object' && body.error_id === id;

/**
 * The readable message for a failed answer.
 * @param {any} body
 * @returns {string}
 */
export function describeFailure(body) {
  const id = body && typeof body.error_id === 'string' ? body.error_id : null;
  if (id && Object.hasOwn(ERROR_WORDS, id)) return ERROR_WORDS[/** @type {ServerErrorId} */ (id)]();
  if (body && typeof body.error === 'string' && body.error !== '') return t(body.error);
  if (body && typeof body.preset_fail === 'string') return t(body.preset_fail);
  return id ? t('The server refused the request ({0}).', id) : t('The server refused the request.');
}

/** @param {any} body */
const isFailure = (body) => body !== null && typeof body === 'object' && ('error' in body || 'error_id' in body || 'preset_fail' in body);

/**
 * One POST to /API/<route>; returns the parsed answer whatever its status, or throws for network/format problems.
 * @param {string} route
 * @param {Record<string, unknown>} body
 * @returns {Promise<{ status: number, body: any }>}
 */
async function post(route, body) {
  let res;
  try {
    res = await fetch(`/API/${route}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(t('The server cannot be reached. Check that it is running and that your connection works, then try again.'), 'network');
  }
  const text = await res.text();
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object') return { status: res.status, body: parsed };
  } catch {
    // handled below
  }
  throw new ApiError(t('The server sent an answer this page does not understand (HTTP {0}).', res.status), 'http', null, res.status);
}

/** @typedef {{ session_id: string, user_id: string, permissions: string[], [key: string]: unknown }} SessionData */
/** @type {SessionData | null} */
let session = null;
/** @type {Promise<SessionData> | null} */
let renewing = null;
let lastRenewal = 0;
/** @type {Array<(s: SessionData) => void>} */
const sessionListeners = [];
/** @type {Array<(err: ApiError) => void>} */
const loginLostListeners = [];
/**
 * On a page that handles a lost login (onLoginLost), the refusal that found it gone: later calls fail at once with
 * it instead of asking the server again, until the page is reloaded.
 * @type {ApiError | null}
 */
let loginLost = null;

/**
 * Runs `fn(error)` when the login behind this page is found gone: a new session is refused because the login
 * token ended (a logout elsewhere, a password change or reset, a revoked token, a deleted account). From then on
 * every call fails at once with `not_logged_in`, so a page's polling stops asking the server.
 * @param {(err: ApiError) => void} fn
 */
export function onLoginLost(fn) {
  loginLostListeners.push(fn);
}

/**
 * Runs `fn(sessionData)` whenever a new session starts (first load and every renewal).
 * @param {(s: SessionData) => void} fn
 */
export function onNewSession(fn) {
  sessionListeners.push(fn);
}

/** The current session's GetNewSession answer (user_id, permissions, version...). */
export function currentSession() {
  return session;
}

/**
 * Replaces the session id this page uses (the next call then finds out whether the server still knows it).
 * @param {string} id
 */
export function setSessionId(id) {
  if (session) session = { ...session, session_id: id };
}

/**
 * Starts a new session; concurrent callers share one request. Throws `not_logged_in` when the login is gone.
 * @returns {Promise<SessionData>}
 */
export function newSession() {
  if (loginLost) return Promise.reject(loginLost);
  renewing ??= (async () => {
    const wait = lastRenewal + 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    lastRenewal = Date.now();
    const { body } = await post('GetNewSession', {});
    if (isFailure(body) || typeof body.session_id !== 'string') {
      session = null;
      if (body && body.error_id) throw new ApiError(describeFailure(body), body.error_id, body);
      const lost = new ApiError(t('You are not logged in, or your login has expired.'), 'not_logged_in', body);
      if (loginLostListeners.length > 0) {
        loginLost = lost;
        for (const fn of loginLostListeners) fn(lost);
      }
      throw lost;
    }
    const started = /** @type {SessionData} */ (body);
    session = started;
    for (const fn of sessionListeners) fn(started);
    return started;
  })().finally(() => {
    renewing = null;
  });
  return renewing;
}

/**
 * Calls an API route with the page's session; resolves to the answer or throws an ApiError.
 * @param {string} route
 * @param {Record<string, unknown>} [params]
 * @returns {Promise<any>}
 */
export async function call(route, params = {}, depth = 0) {
  const s = session ?? (await newSession());
  const { status, body } = await post(route, { ...params, session_id: s.session_id });
  if (answerHas(body, 'invalid_session_id') && depth < 3) {
    if (session && session.session_id === s.session_id) session = null;
    await newSession();
    return call(route, params, depth + 1);
  }
  if (isFailure(body)) throw new ApiError(describeFailure(body), body.error_id ?? null, body, status);
  return body;
}

/**
 * A route without a session (Login, RegisterBasic).
 * @param {string} route
 * @param {Record<string, unknown>} params
 * @returns {Promise<any>}
 */
export async function callSessionless(route, params) {
  const { status, body } = await post(route, params);
  if (isFailure(body)) throw new ApiError(describeFailure(body), body.error_id ?? null, body, status);
  return body;
}

/**
 * Opens a WebSocket route, sends `params` with the session id, and passes every message to `onMessage`.
 * Resolves when the server closes the socket. Renews the session and reconnects on `invalid_session_id`.
 * @param {string} route
 * @param {Record<string, unknown>} params
 * @param {(message: any) => void} onMessage
 * @returns {Promise<void>}
 */
export async function openSocket(route, params, onMessage, depth = 0) {
  const s = session ?? (await newSession());
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let renew = false;
  await new Promise((resolve, reject) => {
    const ws = new WebSocket(`${scheme}//${location.host}/API/${route}`);
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
      ws.send(JSON.stringify({ ...params, session_id: s.session_id }));
    });
    ws.addEventListener('message', (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (answerHas(message, 'invalid_session_id') && depth < 3) {
        renew = true;
        return;
      }
      onMessage(message);
    });
    ws.addEventListener('close', () => resolve(undefined));
    ws.addEventListener('error', () => {
      if (!opened) reject(new ApiError(t('The server cannot be reached. Check that it is running and that your connection works, then try again.'), 'network'));
    });
  });
  if (renew) {
    if (session && session.session_id === s.session_id) session = null;
    await newSession();
    return openSocket(route, params, onMessage, depth + 1);
  }
}
