// The browser side of OpenID Connect sign-in (docs/COMPATIBILITY.md#d47 .. #d52, docs/SECURITY.md#oidc-sign-in):
// GET /OAuth/Start/<google|oidc> sends the browser to the provider with a short-lived HttpOnly cookie naming the
// stored flow; GET /OAuth/Callback/<provider> finishes it (any instance can: the flow is in the store);
// POST /GoogleOAuthVerify takes a Google Identity Services credential. The outcome is a login cookie (as Login
// sets it), the pick-a-user-name page, a linked account, or a page that says why not, with an audit entry.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestInfo } from '../api/route.js';
import { TOKEN_COOKIE, TOKEN_COOKIE_SECONDS, tokenAgent } from '../accounts/login-tokens.js';
import { OAuthRefusal, OAUTH_PROVIDERS, sameText, type OAuthIntent, type OAuthProviderId, type OAuthRefusalReason } from '../accounts/oauth.js';
import { validLogin } from '../accounts/request-user.js';
import { cookieControl } from '../http/cookies.js';
import { SESSIONLESS_MAX_BYTES } from '../http/limits.js';
import { redirect } from '../http/respond.js';
import { sendPage, type WebHost } from './pages.js';

/** The cookie that binds a started sign-in to this browser: an opaque id, the flow itself is in the store. */
export const FLOW_COOKIE = 'swarm_oauth_flow';
const FLOW_COOKIE_SECONDS = 600;
/** Google Identity Services' double-submit cookie and form field. */
const GOOGLE_CSRF = 'g_csrf_token';
/** Starts (and Google credential posts) per client address and minute: each start stores a row for ten minutes. */
const START_RULE = { name: 'oauth-start', max: 60, periodMs: 60_000 } as const;

/** Refusals that are not about a token: the outcome pages' own reasons. */
type PageReason = OAuthRefusalReason | 'no_account' | 'email_taken' | 'login_failed' | 'busy';

/** `<OAuthReturnURL, else Network.ExternalURL, else this request's origin>/OAuth/Callback/<provider>`. */
function redirectUri(host: WebHost, info: RequestInfo, provider: OAuthProviderId): string {
  const s = host.services.settings;
  let base = s.string('UserAuthorization.OAuth.OAuthReturnURL').trim() || s.string('Network.ExternalURL').trim();
  if (base === '' || !/^https?:\/\//i.test(base)) base = `${info.secure ? 'https' : 'http'}://${info.headers.host ?? 'localhost'}`;
  return `${base.replace(/\/+$/, '')}/OAuth/Callback/${provider}`;
}

function providerOf(segment: string | undefined): OAuthProviderId | null {
  const p = (segment ?? '').toLowerCase();
  return (OAUTH_PROVIDERS as readonly string[]).includes(p) ? (p as OAuthProviderId) : null;
}

const STATUS: Partial<Record<PageReason, number>> = { not_configured: 404, discovery_failed: 502, login_failed: 500, busy: 429 };

/** The page that says why, with an audit entry naming the reason (never a token or code). */
async function refuse(host: WebHost, req: IncomingMessage, res: ServerResponse, info: RequestInfo, provider: string, reason: PageReason, message: string, email: string | null = null): Promise<true> {
  // A rate-limited caller is not recorded each time: the limit is there to bound writes.
  if (reason !== 'busy') await host.services.audit.record({ userId: null, attemptedName: email, address: info.clientAddress, action: 'oauth.refused', detail: { provider, reason } });
  const domain = email && email.includes('@') ? email.slice(email.lastIndexOf('@') + 1) : '';
  await sendPage(host.services, req, res, info, 'oauth', { status: STATUS[reason] ?? 403, data: { oauth: { mode: 'refused', reason, message, email: email ?? '', domain, provider } } });
  return true;
}

/** Sets the login cookie exactly as Login does and opens the user page. */
async function signIn(host: WebHost, req: IncomingMessage, res: ServerResponse, info: RequestInfo, userId: string, provider: string, email: string): Promise<true> {
  const services = host.services;
  const token = await services.loginTokens.create(userId, info.ipString, tokenAgent(info.headers['user-agent']));
  if (!token) return refuse(host, req, res, info, provider, 'login_failed', 'The login could not be stored. Try again.', email);
  await services.audit.record({ userId, attemptedName: email, address: info.clientAddress, action: 'login.success', target: userId, detail: { method: provider } });
  cookieControl(res, info).setCookie(TOKEN_COOKIE, token.raw, { maxAgeSeconds: TOKEN_COOKIE_SECONDS });
  redirect(res, '/Text2Image');
  return true;
}

/** What a verified e-mail leads to: the linked account, the pick-a-user-name page, or a refusal. */
async function afterVerified(host: WebHost, req: IncomingMessage, res: ServerResponse, info: RequestInfo, provider: OAuthProviderId, email: string, intent: OAuthIntent): Promise<true> {
  const { oauth, audit } = host.services;
  if (intent.kind === 'link') {
    // Linking needs the same account still signed in in this browser.
    const login = await validLogin(host.services, info.cookies[TOKEN_COOKIE]);
    if (!login || login.userId !== intent.userId) return refuse(host, req, res, info, provider, 'bad_state', 'Linking was started by another login. Sign in and start again from your user page.', email);
    const result = await oauth.setLink(intent.userId, email, provider);
    if (result === 'taken') return refuse(host, req, res, info, provider, 'email_taken', `The address ${email} is already linked to another account.`, email);
    await audit.record({ userId: intent.userId, address: info.clientAddress, action: 'oauth.link', target: intent.userId, detail: { provider, email } });
    redirect(res, '/Text2Image#password');
    return true;
  }
  const userId = await oauth.linkedUser(email);
  if (userId !== null) return signIn(host, req, res, info, userId, provider, email);
  if (!oauth.registrationAllowed()) return refuse(host, req, res, info, provider, 'no_account', `No account on this server is linked to ${email}. Ask the server owner to link it to your account.`, email);
  const key = await oauth.createTracker(email, provider);
  const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  await sendPage(host.services, req, res, info, 'oauth', {
    fill: (html) => html.replace('name="oauth_tracker_key" value=""', () => `name="oauth_tracker_key" value="${escape(key)}"`),
    data: { oauth: { mode: 'register', email, provider, provider_name: oauth.displayName(provider) } },
  });
  return true;
}

async function start(host: WebHost, req: IncomingMessage, res: ServerResponse, info: RequestInfo, provider: OAuthProviderId, query: URLSearchParams): Promise<true> {
  const services = host.services;
  if (!(await services.rateLimits.tryUse(START_RULE, info.clientAddress))) return refuse(host, req, res, info, provider, 'busy', 'Too many sign-ins from this address. Wait a minute and try again.');
  let intent: OAuthIntent = { kind: 'login' };
  if (query.get('link') === '1') {
    const login = await validLogin(services, info.cookies[TOKEN_COOKIE]);
    if (!login) return refuse(host, req, res, info, provider, 'bad_state', 'Sign in first: linking adds a provider to the account you are signed in with.');
    intent = { kind: 'link', userId: login.userId };
  }
  try {
    const flow = await services.oauth.start(provider, redirectUri(host, info, provider), intent);
    cookieControl(res, info).setCookie(FLOW_COOKIE, flow.flowId, { maxAgeSeconds: FLOW_COOKIE_SECONDS, path: '/OAuth/' });
    redirect(res, flow.url);
    return true;
  } catch (err) {
    if (err instanceof OAuthRefusal) return refuse(host, req, res, info, provider, err.reason, err.message);
    throw err;
  }
}

async function callback(host: WebHost, req: IncomingMessage, res: ServerResponse, info: RequestInfo, provider: OAuthProviderId, query: URLSearchParams): Promise<true> {
  // The flow cookie is spent whatever happens next.
  cookieControl(res, info).clearCookie(FLOW_COOKIE, '/OAuth/');
  try {
    const { email, intent } = await host.services.oauth.finish(provider, info.cookies[FLOW_COOKIE], query);
    return await afterVerified(host, req, res, info, provider, email, intent);
  } catch (err) {
    if (err instanceof OAuthRefusal) return refuse(host, req, res, info, provider, err.reason, err.message, err.email);
    throw err;
  }
}

/** Reads a small form body; null when it is larger than a sessionless API body may be. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > SESSIONLESS_MAX_BYTES) return null;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function googleVerify(host: WebHost, req: IncomingMessage, res: ServerResponse, info: RequestInfo): Promise<true> {
  const services = host.services;
  if (!services.oauth.configured('google')) {
    req.resume();
    return refuse(host, req, res, info, 'google', 'not_configured', 'Signing in with Google is not set up on this server.');
  }
  if (!(await services.rateLimits.tryUse(START_RULE, info.clientAddress))) {
    req.resume();
    return refuse(host, req, res, info, 'google', 'busy', 'Too many sign-ins from this address. Wait a minute and try again.');
  }
  const form = /^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '') ? await readForm(req) : (req.resume(), null);
  const credential = form?.get('credential') ?? '';
  if (credential === '') return refuse(host, req, res, info, 'google', 'bad_token', 'No Google credential was sent.');
  // Google's double-submit check against login CSRF: the form field must equal the cookie Google's script set.
  const formCsrf = form?.get(GOOGLE_CSRF) ?? '';
  if (formCsrf === '' || !sameText(formCsrf, info.cookies[GOOGLE_CSRF] ?? '')) return refuse(host, req, res, info, 'google', 'bad_state', 'The Google sign-in did not come from a page of this server.');
  try {
    const email = await services.oauth.verifyIdToken('google', credential, null);
    return await afterVerified(host, req, res, info, 'google', email, { kind: 'login' });
  } catch (err) {
    if (err instanceof OAuthRefusal) return refuse(host, req, res, info, 'google', err.reason, err.message, err.email);
    throw err;
  }
}

/** Handles /OAuth/Start/*, /OAuth/Callback/* and POST /GoogleOAuthVerify; false for any other path. */
export async function handleOAuth(host: WebHost, req: IncomingMessage, res: ServerResponse, info: RequestInfo): Promise<boolean> {
  const [pathname, rawQuery] = (req.url ?? '/').split('?', 2) as [string, string | undefined];
  const lower = pathname.toLowerCase();
  if (lower === '/googleoauthverify') {
    if (req.method !== 'POST') {
      redirect(res, '/Login');
      return true;
    }
    return googleVerify(host, req, res, info);
  }
  const parts = lower.split('/');
  if (parts.length !== 4 || parts[1] !== 'oauth' || (parts[2] !== 'start' && parts[2] !== 'callback')) return false;
  // GET only: a HEAD (a link checker, say) must not start a flow or spend one.
  if (req.method !== 'GET') return false;
  const provider = providerOf(parts[3]);
  const query = new URLSearchParams(rawQuery ?? '');
  if (provider === null || !host.services.oauth.configured(provider)) {
    return refuse(host, req, res, info, (parts[3] ?? '').slice(0, 20), 'not_configured', 'Signing in with this provider is not set up on this server.');
  }
  return parts[2] === 'start' ? start(host, req, res, info, provider, query) : callback(host, req, res, info, provider, query);
}
