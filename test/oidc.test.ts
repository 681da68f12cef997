// Sign-in with OpenID Connect (docs/COMPATIBILITY.md#d47 .. #d52) against a real provider (the oidc-provider
// package) on localhost, over HTTP: the generic provider's code flow with PKCE, state and nonce, Google's
// credential POST verified against the same provider's keys (SWARMCORE_GOOGLE_ISSUER, the test hook), the tracker
// keys of RegisterOAuth, linking, and on PostgreSQL a flow started on one instance finished on another.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CookieJar, request, signInAtProvider, startProvider, type TestProvider } from './helpers/oidc-provider.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { TestServer, needsService, prehash } from './helpers/server.js';

const CLIENT_SECRET = 'oidc-client-secret-value-1234';
const GOOGLE_SECRET = 'google-client-secret-value-5678';
const GOOGLE_CLIENT = 'google-client.apps.example';

let provider: TestProvider;

before(async () => {
  provider = await startProvider();
});
after(async () => {
  await provider.close();
});

/** A server with accounts on, both providers pointing at the test provider, which then knows its redirect URIs. */
async function startSwarm(settings: Record<string, string | number | boolean> = {}, databaseUrl?: string, others: TestServer[] = [], args: string[] = []): Promise<TestServer> {
  const server = await TestServer.start({
    args,
    settings: {
      'UserAuthorization.AuthorizationRequired': true,
      'UserAuthorization.OAuth.OIDCIssuer': provider.issuer,
      'UserAuthorization.OAuth.OIDCClientId': 'swarm',
      'UserAuthorization.OAuth.OIDCClientSecret': CLIENT_SECRET,
      'UserAuthorization.OAuth.OIDCDisplayName': 'Test SSO',
      'UserAuthorization.OAuth.GoogleOAuth': true,
      'UserAuthorization.OAuth.GoogleOAuthClientId': GOOGLE_CLIENT,
      'UserAuthorization.OAuth.GoogleOAuthClientSecret': GOOGLE_SECRET,
      ...settings,
    },
    ...(databaseUrl ? { databaseUrl } : {}),
    env: { SWARMCORE_GOOGLE_ISSUER: provider.issuer },
  });
  const all = [...others, server];
  provider.setClients([
    { client_id: 'swarm', client_secret: CLIENT_SECRET, redirect_uris: all.map((s) => `${s.url}/OAuth/Callback/oidc`) },
    { client_id: GOOGLE_CLIENT, client_secret: GOOGLE_SECRET, redirect_uris: all.map((s) => `${s.url}/OAuth/Callback/google`) },
    { client_id: 'another-app', client_secret: 'another-secret-000000000', redirect_uris: ['http://127.0.0.1:9/cb'] },
  ]);
  return server;
}

/** The page-data block of a page. */
function pageData(html: string): Record<string, unknown> {
  const m = /<script type="application\/json" id="page-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, `no page data in: ${html.slice(0, 300)}`);
  return JSON.parse(m[1]!) as Record<string, unknown>;
}

/** Starts a sign-in in `jar`'s browser, signs in at the provider as `login`, returns where it sends the browser. */
async function atProvider(server: TestServer, login: string, jar = new CookieJar(), startPath = '/OAuth/Start/oidc'): Promise<{ jar: CookieJar; callback: string }> {
  const start = await request(`${server.url}${startPath}`, jar);
  assert.equal(start.status, 302, await start.text());
  const location = start.headers.get('location')!;
  assert.ok(location.startsWith(`${provider.issuer}/auth?`), location);
  const auth = new URL(location);
  assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(auth.searchParams.get('state') && auth.searchParams.get('nonce') && auth.searchParams.get('code_challenge'));
  assert.ok(jar.cookies.has('swarm_oauth_flow'));
  return { jar, callback: await signInAtProvider(location, login) };
}

async function flow(server: TestServer, login: string, jar = new CookieJar(), startPath = '/OAuth/Start/oidc'): Promise<{ res: Response; html: string; jar: CookieJar }> {
  const { callback } = await atProvider(server, login, jar, startPath);
  const res = await request(callback, jar);
  return { res, html: await res.text(), jar };
}

/** The user a login cookie signs in as (GetNewSession with it). */
async function whoIs(server: TestServer, jar: CookieJar): Promise<unknown> {
  const token = jar.cookies.get('swarm_token');
  if (!token) return null;
  return (await server.api('GetNewSession', {}, { Cookie: `swarm_token=${token}`, 'X-Forwarded-For': '10.0.0.1' })).body.user_id ?? null;
}

async function auditActions(server: TestServer, sid: string): Promise<Array<{ action: string; detail: Record<string, unknown>; attempted_name: string | null; user_id: string | null }>> {
  return (await server.call('AdminListAuditLog', sid, { limit: 50 })).body.entries as never;
}

async function expectRefusal(server: TestServer, sid: string, res: Response, html: string, reason: string, status = 403): Promise<void> {
  assert.equal(res.status, status, html.slice(0, 300));
  const data = pageData(html);
  assert.equal((data.oauth as Record<string, unknown>).mode, 'refused');
  assert.equal((data.oauth as Record<string, unknown>).reason, reason);
  assert.ok(String((data.oauth as Record<string, unknown>).message).length > 10);
  const entry = (await auditActions(server, sid)).find((e) => e.action === 'oauth.refused');
  assert.equal(entry?.detail.reason, reason);
}

function assertNoSecrets(server: TestServer, secrets: string[]): void {
  for (const s of secrets) assert.ok(!server.output.includes(s), `the log holds a secret: ${s.slice(0, 8)}...`);
}

test('a linked user signs in through the provider: the login cookie as Login sets it, then /Text2Image; no secret in the debug log or the settings list', async () => {
  const server = await startSwarm({}, undefined, [], ['--log-level', 'debug']);
  try {
    const sid = await server.session();
    assert.equal((await server.call('AdminAddUser', sid, { name: 'alice', password: await prehash('alice', 'password1'), role: 'user' })).status, 200);
    assert.deepEqual((await server.call('AdminSetUserOAuthEmail', sid, { name: 'alice', email: 'Alice@Example.com' })).body, { success: true });
    assert.equal((await server.call('AdminGetUserInfo', sid, { name: 'alice' })).body.oauth_email, 'alice@example.com');
    const { callback, jar } = await atProvider(server, 'alice@example.com');
    const res = await request(callback, jar);
    const html = await res.text();
    assert.equal(res.status, 302, JSON.stringify(html === '' ? '' : pageData(html).oauth));
    assert.equal(res.headers.get('location'), '/Text2Image');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('swarm_token='))!;
    assert.match(cookie, /; Max-Age=31536000; Path=\/; SameSite=Lax; HttpOnly$/);
    assert.ok(!jar.cookies.has('swarm_oauth_flow'), 'the flow cookie is spent');
    assert.equal(await whoIs(server, jar), 'alice');
    const entry = (await auditActions(server, sid)).find((e) => e.action === 'login.success');
    assert.deepEqual([entry?.user_id, entry?.detail], ['alice', { method: 'oidc' }]);
    const listed = await server.call('ListServerSettings', sid);
    const oauth = ((listed.body.settings as Record<string, { value: Record<string, { value: Record<string, { value: unknown; is_secret: boolean }> }> }>).userauthorization!.value.oauth!.value);
    assert.deepEqual([oauth.oidcclientsecret!.value, oauth.oidcclientsecret!.is_secret, oauth.googleoauthclientsecret!.value], ['\t<secret>', true, '\t<secret>']);
    assert.ok(!listed.text.includes(CLIENT_SECRET) && !listed.text.includes(GOOGLE_SECRET));
    assert.match(server.output, /"level":30/, 'the server logs below warn level (debug)');
    assertNoSecrets(server, [CLIENT_SECRET, GOOGLE_SECRET, jar.cookies.get('swarm_token')!, new URL(callback).searchParams.get('code')!, new URL(callback).searchParams.get('state')!]);
  } finally {
    await server.close();
  }
});

test('a new address registers through RegisterOAuth with its one-time tracker key, and is signed in; the key works once', async () => {
  const server = await startSwarm({ 'UserAuthorization.Registration.AllowRegistration': true, 'UserAuthorization.Registration.OAuthRegistration': true });
  try {
    const sid = await server.session();
    const { res, html } = await flow(server, 'newbie@example.com');
    assert.equal(res.status, 200);
    const data = pageData(html);
    assert.deepEqual(data.oauth, { mode: 'register', email: 'newbie@example.com', provider: 'oidc', provider_name: 'Test SSO' });
    const key = /name="oauth_tracker_key" value="([0-9a-f]{64})"/.exec(html)?.[1];
    assert.ok(key, 'the page carries the tracker key in the oauth_tracker_key field');
    // Wrong provider type: refused, and the key stays usable.
    assert.deepEqual((await server.api('RegisterOAuth', { username: 'newbie', oauth_tracker_key: key, oauth_type: 'google' })).body, { error_id: 'invalid_input' });
    assert.deepEqual((await server.api('RegisterOAuth', { username: 'ab', oauth_tracker_key: key, oauth_type: 'oidc' })).body, { error_id: 'invalid_input' });
    const ok = await server.api('RegisterOAuth', { username: 'Newbie', oauth_tracker_key: key, oauth_type: 'oidc' });
    assert.deepEqual(ok.body, { success: 'true' });
    const jar = new CookieJar();
    jar.take(new Response(null, { headers: ok.headers }));
    assert.equal(await whoIs(server, jar), 'newbie');
    assert.equal((await server.call('AdminGetUserInfo', sid, { name: 'newbie' })).body.oauth_email, 'newbie@example.com');
    // Used once: a second registration with the same key is refused and audited.
    assert.deepEqual((await server.api('RegisterOAuth', { username: 'newbie2', oauth_tracker_key: key, oauth_type: 'oidc' })).body, { error_id: 'invalid_input' });
    const entries = await auditActions(server, sid);
    assert.equal(entries.find((e) => e.action === 'oauth.refused')?.detail.reason, 'bad_tracker_key');
    assert.deepEqual(entries.find((e) => e.action === 'oauth.register')?.detail, { provider: 'oidc', email: 'newbie@example.com' });
    // The account has no password; the next provider sign-in goes straight in.
    const again = await flow(server, 'newbie@example.com');
    assert.equal(again.res.headers.get('location'), '/Text2Image');
    assert.equal(await whoIs(server, again.jar), 'newbie');
    assertNoSecrets(server, [key, CLIENT_SECRET]);
  } finally {
    await server.close();
  }
});

test('a tracker key past its lifetime is refused (lifetime set to 0 through UserAuthorization.OAuth.TrackerKeyMinutes)', async () => {
  const server = await startSwarm({
    'UserAuthorization.Registration.AllowRegistration': true,
    'UserAuthorization.Registration.OAuthRegistration': true,
    'UserAuthorization.OAuth.TrackerKeyMinutes': 0,
  });
  try {
    const sid = await server.session();
    const { html } = await flow(server, 'late@example.com');
    const key = /name="oauth_tracker_key" value="([0-9a-f]{64})"/.exec(html)![1]!;
    assert.deepEqual((await server.api('RegisterOAuth', { username: 'late', oauth_tracker_key: key, oauth_type: 'oidc' })).body, { error_id: 'invalid_input' });
    assert.equal((await server.call('AdminGetUserInfo', sid, { name: 'late' })).body.error, 'No user by that name exists.');
    assert.equal((await auditActions(server, sid)).find((e) => e.action === 'oauth.refused')?.detail.reason, 'bad_tracker_key');
  } finally {
    await server.close();
  }
});

test('refused sign-ins each get a page that says why and an audit entry: no account, unverified e-mail, disallowed domain, bad or replayed state, injected code', async () => {
  const server = await startSwarm({ 'UserAuthorization.OAuth.OAuthAllowedDomains': 'example.com, corp.example' });
  try {
    const sid = await server.session();
    let r = await flow(server, 'stranger@example.com');
    await expectRefusal(server, sid, r.res, r.html, 'no_account');
    assert.equal((pageData(r.html).oauth as Record<string, unknown>).email, 'stranger@example.com');
    r = await flow(server, 'unverified.bob@example.com');
    await expectRefusal(server, sid, r.res, r.html, 'unverified_email');
    r = await flow(server, 'carol@elsewhere.test');
    await expectRefusal(server, sid, r.res, r.html, 'domain_not_allowed');
    assert.equal((pageData(r.html).oauth as Record<string, unknown>).domain, 'elsewhere.test');

    // No flow cookie (the answer reached another browser: login CSRF): refused.
    const a = await atProvider(server, 'stranger@example.com');
    let res = await request(a.callback, new CookieJar());
    await expectRefusal(server, sid, res, await res.text(), 'bad_state');
    // The right cookie, another state: refused, and the flow is spent.
    const b = await atProvider(server, 'stranger@example.com');
    const tampered = new URL(b.callback);
    tampered.searchParams.set('state', 'not-the-state');
    const saved = b.jar.cookies.get('swarm_oauth_flow')!;
    res = await request(tampered.href, b.jar);
    await expectRefusal(server, sid, res, await res.text(), 'bad_state');
    // Replaying the genuine answer with the same cookie again finds nothing.
    b.jar.cookies.set('swarm_oauth_flow', saved);
    res = await request(b.callback, b.jar);
    await expectRefusal(server, sid, res, await res.text(), 'bad_state');
    // Code injection: flow C's code and state pasted into flow D's browser; D's cookie names D's flow, so the state differs.
    const c = await atProvider(server, 'stranger@example.com');
    const d = await atProvider(server, 'stranger@example.com');
    res = await request(c.callback, d.jar);
    await expectRefusal(server, sid, res, await res.text(), 'bad_state');
    // C's own state with D's code: PKCE (C's verifier) refuses the exchange.
    const mixed = new URL(c.callback);
    const e = await atProvider(server, 'stranger@example.com');
    mixed.searchParams.set('code', new URL(e.callback).searchParams.get('code')!);
    res = await request(mixed.href, c.jar);
    await expectRefusal(server, sid, res, await res.text(), 'exchange_failed');
    // A provider that is not configured, or not known at all.
    res = await request(`${server.url}/OAuth/Start/github`, new CookieJar());
    await expectRefusal(server, sid, res, await res.text(), 'not_configured', 404);
    assertNoSecrets(server, [CLIENT_SECRET, new URL(c.callback).searchParams.get('code')!, new URL(e.callback).searchParams.get('code')!]);
  } finally {
    await server.close();
  }
});

test("GoogleOAuthVerify signs in with a credential verified against the provider's keys and refuses other clients', expired, wrongly signed and unverified tokens", async () => {
  const server = await startSwarm();
  try {
    const sid = await server.session();
    assert.equal((await server.call('AdminAddUser', sid, { name: 'gina', password: await prehash('gina', 'password1'), role: 'user' })).status, 200);
    assert.deepEqual((await server.call('AdminSetUserOAuthEmail', sid, { name: 'gina', email: 'gina@example.com' })).body, { success: true });
    const claims = { iss: provider.issuer, aud: GOOGLE_CLIENT, sub: 'g-1', email: 'gina@example.com', email_verified: true };
    const post = async (credential: string, csrf = 'csrf-value-1'): Promise<{ res: Response; html: string; jar: CookieJar }> => {
      const jar = new CookieJar();
      jar.cookies.set('g_csrf_token', 'csrf-value-1');
      const res = await request(`${server.url}/GoogleOAuthVerify`, jar, { form: { credential, g_csrf_token: csrf } });
      return { res, html: await res.text(), jar };
    };
    const good = await post(await provider.signIdToken(claims));
    assert.equal(good.res.status, 302);
    assert.equal(good.res.headers.get('location'), '/Text2Image');
    assert.equal(await whoIs(server, good.jar), 'gina');

    let r = await post(await provider.signIdToken({ ...claims, aud: 'another-app' }));
    await expectRefusal(server, sid, r.res, r.html, 'wrong_audience');
    r = await post(await provider.signIdToken(claims, { expiresInSeconds: -120 }));
    await expectRefusal(server, sid, r.res, r.html, 'expired');
    r = await post(await provider.signIdToken(claims, { foreignKey: true }));
    await expectRefusal(server, sid, r.res, r.html, 'bad_signature');
    r = await post(await provider.signIdToken({ ...claims, email_verified: false }));
    await expectRefusal(server, sid, r.res, r.html, 'unverified_email');
    r = await post(await provider.signIdToken({ ...claims, iss: 'https://issuer.example' }));
    await expectRefusal(server, sid, r.res, r.html, 'wrong_issuer');
    r = await post(await provider.signIdToken(claims), 'another-csrf-value');
    await expectRefusal(server, sid, r.res, r.html, 'bad_state');
    r = await post('');
    await expectRefusal(server, sid, r.res, r.html, 'bad_token');
    assert.equal(r.jar.cookies.has('swarm_token'), false);
    assertNoSecrets(server, [GOOGLE_SECRET]);
  } finally {
    await server.close();
  }
});

test('the Google button runs the same code flow against the issuer the test hook names', async () => {
  const server = await startSwarm();
  try {
    const sid = await server.session();
    assert.equal((await server.call('AdminAddUser', sid, { name: 'gary', password: await prehash('gary', 'password1'), role: 'user' })).status, 200);
    assert.deepEqual((await server.call('AdminSetUserOAuthEmail', sid, { name: 'gary', email: 'gary@example.com' })).body, { success: true });
    const { res, jar } = await flow(server, 'gary@example.com', new CookieJar(), '/OAuth/Start/google');
    assert.equal(res.headers.get('location'), '/Text2Image');
    assert.equal(await whoIs(server, jar), 'gary');
  } finally {
    await server.close();
  }
});

test('AdminSetUserOAuthEmail refuses an e-mail linked to another account and changes nothing; empty clears', async () => {
  const server = await startSwarm();
  try {
    const sid = await server.session();
    for (const name of ['ann', 'ben']) assert.equal((await server.call('AdminAddUser', sid, { name, password: await prehash(name, 'password1'), role: 'user' })).status, 200);
    assert.deepEqual((await server.call('AdminSetUserOAuthEmail', sid, { name: 'ann', email: 'shared@example.com' })).body, { success: true });
    assert.deepEqual((await server.call('AdminSetUserOAuthEmail', sid, { name: 'ben', email: 'ben@example.com' })).body, { success: true });
    assert.deepEqual((await server.call('AdminSetUserOAuthEmail', sid, { name: 'ben', email: 'SHARED@example.com' })).body, { error: 'That OAuth email is already linked to another account.' });
    assert.equal((await server.call('AdminGetUserInfo', sid, { name: 'ben' })).body.oauth_email, 'ben@example.com');
    assert.deepEqual((await server.call('AdminSetUserOAuthEmail', sid, { name: 'nobody', email: 'x@example.com' })).body, { error: 'No user by that name exists.' });
    assert.deepEqual((await server.call('AdminSetUserOAuthEmail', sid, { name: 'ann', email: 'not an address' })).body, { error: 'That is not an e-mail address.' });
    assert.deepEqual((await server.call('AdminSetUserOAuthEmail', sid, { name: 'ann', email: '' })).body, { success: true });
    assert.equal((await server.call('AdminGetUserInfo', sid, { name: 'ann' })).body.oauth_email, '');
    assert.deepEqual((await server.call('AdminSetUserOAuthEmail', sid, { name: 'ben', email: 'shared@example.com' })).body, { success: true });
    const entry = (await auditActions(server, sid)).find((e) => e.action === 'user.set_oauth_email');
    assert.deepEqual(entry?.detail, { email: 'shared@example.com' });
    // Without manage_users: refused by the envelope.
    const login = await server.api('Login', { username: 'ann', password: await prehash('ann', 'password1') });
    const token = /swarm_token=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]!;
    const annSid = await server.session({ Cookie: `swarm_token=${token}`, 'X-Forwarded-For': '10.0.0.2' });
    assert.equal((await server.call('AdminSetUserOAuthEmail', annSid, { name: 'ann', email: 'ann@example.com' }, { 'X-Forwarded-For': '10.0.0.2' })).body.error_id, 'bad_permissions');
  } finally {
    await server.close();
  }
});

test('a signed-in user links and unlinks their own provider account; a passwordless account cannot unlink and sets a password through ChangePassword', async () => {
  const server = await startSwarm({ 'UserAuthorization.Registration.AllowRegistration': true, 'UserAuthorization.Registration.OAuthRegistration': true });
  try {
    const sid = await server.session();
    assert.equal((await server.call('AdminAddUser', sid, { name: 'dora', password: await prehash('dora', 'password1'), role: 'user' })).status, 200);
    const login = await server.api('Login', { username: 'dora', password: await prehash('dora', 'password1') });
    const jar = new CookieJar();
    jar.take(new Response(null, { headers: login.headers }));
    const headers = { Cookie: `swarm_token=${jar.cookies.get('swarm_token')!}`, 'X-Forwarded-For': '10.0.0.3' };
    const doraSid = await server.session(headers);
    const before = (await server.call('GetMyOAuthLink', doraSid, {}, headers)).body;
    assert.deepEqual(before, { email: '', provider: '', has_password: true, providers: [{ id: 'google', name: 'Google' }, { id: 'oidc', name: 'Test SSO' }] });
    // Linking without a login is refused.
    const res = await request(`${server.url}/OAuth/Start/oidc?link=1`, new CookieJar());
    await expectRefusal(server, sid, res, await res.text(), 'bad_state');
    const linked = await flow(server, 'dora.work@example.com', jar, '/OAuth/Start/oidc?link=1');
    assert.equal(linked.res.status, 302);
    assert.equal(linked.res.headers.get('location'), '/Text2Image#password');
    assert.deepEqual((await server.call('GetMyOAuthLink', doraSid, {}, headers)).body.email, 'dora.work@example.com');
    assert.equal((await auditActions(server, sid)).find((e) => e.action === 'oauth.link')?.user_id, 'dora');
    assert.deepEqual((await server.call('UnlinkMyOAuth', doraSid, {}, headers)).body, { success: true });
    assert.equal((await server.call('GetMyOAuthLink', doraSid, {}, headers)).body.email, '');

    // A provider-only account: no password, unlinking refused, ChangePassword sets one.
    const reg = await flow(server, 'pat@example.com');
    const key = /name="oauth_tracker_key" value="([0-9a-f]{64})"/.exec(reg.html)![1]!;
    const made = await server.api('RegisterOAuth', { username: 'pat', oauth_tracker_key: key, oauth_type: 'oidc' }, { 'X-Forwarded-For': '10.0.0.4' });
    const patJar = new CookieJar();
    patJar.take(new Response(null, { headers: made.headers }));
    const patHeaders = { Cookie: `swarm_token=${patJar.cookies.get('swarm_token')!}`, 'X-Forwarded-For': '10.0.0.4' };
    const patSid = await server.session(patHeaders);
    assert.equal((await server.call('GetMyOAuthLink', patSid, {}, patHeaders)).body.has_password, false);
    assert.deepEqual((await server.call('UnlinkMyOAuth', patSid, {}, patHeaders)).body, {
      error: 'Your account has no password, so removing the provider sign-in would lock you out. Set a password under Change Password first (leave the old password empty).',
    });
    assert.deepEqual((await server.api('Login', { username: 'pat', password: await prehash('pat', 'new-password') }, { 'X-Forwarded-For': '10.0.0.4' })).body, { error_id: 'invalid_login' });
    assert.deepEqual((await server.call('ChangePassword', patSid, { oldPassword: await prehash('pat', ''), newPassword: await prehash('pat', 'new-password') }, patHeaders)).body, { success: true });
    assert.equal((await server.call('GetMyOAuthLink', patSid, {}, patHeaders)).body.has_password, true);
    assert.deepEqual((await server.api('Login', { username: 'pat', password: await prehash('pat', 'new-password') }, { 'X-Forwarded-For': '10.0.0.5' })).body, { success: 'true' });
  } finally {
    await server.close();
  }
});

test('the login page lists a button per configured provider; the register page only with OAuthRegistration', async () => {
  const server = await startSwarm({ 'UserAuthorization.AllowLocalhostBypass': false, 'UserAuthorization.Registration.AllowRegistration': true });
  try {
    const login = pageData(await (await fetch(`${server.url}/Login`)).text());
    assert.deepEqual(login.oauth_providers, [{ id: 'google', name: 'Google' }, { id: 'oidc', name: 'Test SSO' }]);
    const register = pageData(await (await fetch(`${server.url}/Register`)).text());
    assert.deepEqual(register.oauth_providers, []);
  } finally {
    await server.close();
  }
});

test('PostgreSQL: a sign-in started on one instance finishes on another, and a tracker key made on one is taken once across both', async (t) => {
  if (!needsService(t, await postgresAvailable(), 'PostgreSQL is not reachable on 127.0.0.1:5432')) return;
  const db = await createTestDatabase();
  const settings = { 'UserAuthorization.Registration.AllowRegistration': true, 'UserAuthorization.Registration.OAuthRegistration': true };
  const a = await startSwarm(settings, db.url);
  const b = await startSwarm(settings, db.url, [a]);
  try {
    // Started on A (cookie and flow stored), the provider's answer arrives at B.
    const started = await atProvider(a, 'roamer@example.com');
    const onB = started.callback.replace(`${a.url}/`, `${b.url}/`);
    const res = await request(onB, started.jar);
    const html = await res.text();
    assert.equal(res.status, 200, html.slice(0, 300));
    const key = /name="oauth_tracker_key" value="([0-9a-f]{64})"/.exec(html)![1]!;
    // The key made on B registers on A, once.
    assert.deepEqual((await a.api('RegisterOAuth', { username: 'roamer', oauth_tracker_key: key, oauth_type: 'oidc' })).body, { success: 'true' });
    assert.deepEqual((await b.api('RegisterOAuth', { username: 'roamer2', oauth_tracker_key: key, oauth_type: 'oidc' })).body, { error_id: 'invalid_input' });
    // A second sign-in started on B and finished on A signs the new account in.
    const second = await atProvider(b, 'roamer@example.com');
    const back = await request(second.callback.replace(`${b.url}/`, `${a.url}/`), second.jar);
    assert.equal(back.headers.get('location'), '/Text2Image');
    assert.equal(await whoIs(a, second.jar), 'roamer');
  } finally {
    await Promise.all([a.close(), b.close()]);
    await db.drop();
  }
});
