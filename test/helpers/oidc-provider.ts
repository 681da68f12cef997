// A real OpenID Connect provider (the `oidc-provider` package) on localhost for the sign-in tests, with its
// development login and consent pages, plus a small HTTP driver that walks those pages like a browser would.
// Accounts: the login typed is the e-mail; a login starting with `unverified.` gives that e-mail unverified.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import Provider from 'oidc-provider';

export interface ProviderClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
}

export interface TestProvider {
  readonly issuer: string;
  /** (Re)configures the provider's registered clients; requests before the first call are answered 503. */
  setClients(clients: ProviderClient[]): void;
  /** Signs an ID token with the provider's own key (or another key with `foreignKey`). */
  signIdToken(claims: Record<string, unknown>, options?: { foreignKey?: boolean; expiresInSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

function accountClaims(login: string): { email: string; email_verified: boolean } {
  return login.startsWith('unverified.') ? { email: login.slice('unverified.'.length), email_verified: false } : { email: login, email_verified: true };
}

export async function startProvider(): Promise<TestProvider> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const other = (await generateKeyPair('RS256', { extractable: true })).privateKey;
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (handler) return handler(req, res);
    res.writeHead(503).end();
  });
  return {
    issuer,
    setClients(clients) {
      const provider = new Provider(issuer, {
        clients: clients.map((c) => ({
          client_id: c.client_id,
          ...(c.client_secret ? { client_secret: c.client_secret, token_endpoint_auth_method: 'client_secret_post' } : { token_endpoint_auth_method: 'none' }),
          redirect_uris: c.redirect_uris,
          grant_types: ['authorization_code'],
          response_types: ['code'],
        })),
        jwks: { keys: [jwk] },
        cookies: { keys: ['test-cookie-key-1'] },
        claims: { openid: ['sub'], email: ['email', 'email_verified'] },
        pkce: { required: () => true },
        // Like Google and most providers: the e-mail claims in the ID token itself, not only at the userinfo endpoint.
        conformIdTokenClaims: false,
        findAccount: (_ctx: unknown, id: string) => ({
          accountId: id,
          claims: () => ({ sub: id, ...accountClaims(id) }),
        }),
      });
      handler = provider.callback();
    },
    async signIdToken(claims, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const exp = now + (options.expiresInSeconds ?? 300);
      const jwt = new SignJWT({ ...claims }).setProtectedHeader({ alg: 'RS256', kid: 'test-key' }).setIssuedAt(Math.min(now, exp - 60)).setExpirationTime(exp);
      return jwt.sign(options.foreignKey ? other : privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A minimal cookie jar: name -> value, dropped when a response expires it. */
export class CookieJar {
  readonly cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** GET or POST without following redirects, keeping cookies in `jar`. */
export async function request(url: string, jar: CookieJar, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = { Connection: 'close', ...init.headers };
  if (jar.cookies.size > 0) headers.Cookie = jar.header();
  let body: string | undefined;
  if (init.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  const res = await fetch(url, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
  jar.take(res);
  return res;
}

const decode = (s: string): string => s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#x2F;/gi, '/').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');

/**
 * Walks the provider from its authorization URL: signs in as `login` on its login page, accepts its consent page,
 * and returns the URL it sends the browser back to (the callback with `code` and `state`).
 */
export async function signInAtProvider(authorizationUrl: string, login: string, jar = new CookieJar()): Promise<string> {
  let url = authorizationUrl;
  for (let step = 0; step < 20; step++) {
    const res = await request(url, jar);
    const location = res.headers.get('location');
    if (location) {
      const next = new URL(location, url).href;
      if (!next.startsWith(new URL(authorizationUrl).origin)) return next;
      url = next;
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`the provider page has no form (status ${res.status}): ${html.slice(0, 500)}`);
    const form: Record<string, string> = {};
    for (const m of html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) form[m[1]!] = decode(m[2]!);
    if (/name="login"/.test(html)) {
      form.login = login;
      form.password = 'any password';
    }
    const answer = await request(new URL(decode(action), url).href, jar, { form });
    const after = answer.headers.get('location');
    if (!after) throw new Error(`the provider answered the form with ${answer.status}: ${(await answer.text()).slice(0, 500)}`);
    const next = new URL(after, url).href;
    if (!next.startsWith(new URL(authorizationUrl).origin)) return next;
    url = next;
  }
  throw new Error('the provider did not send the browser back within 20 steps');
}

/** Settings of a swarmcore server with accounts and provider registration on, signing in as client `swarm`. */
export function registrationSettings(provider: TestProvider, secret: string): Record<string, string | boolean> {
  return {
    'UserAuthorization.AuthorizationRequired': true,
    'UserAuthorization.Registration.AllowRegistration': true,
    'UserAuthorization.Registration.OAuthRegistration': true,
    'UserAuthorization.OAuth.OIDCIssuer': provider.issuer,
    'UserAuthorization.OAuth.OIDCClientId': 'swarm',
    'UserAuthorization.OAuth.OIDCClientSecret': secret,
  };
}

/** Registers a server as the provider's client `swarm`, with its generic-provider callback. */
export function acceptServer(provider: TestProvider, serverUrl: string, secret: string): void {
  provider.setClients([{ client_id: 'swarm', client_secret: secret, redirect_uris: [`${serverUrl}/OAuth/Callback/oidc`] }]);
}
