// Page redirects (docs/COMPATIBILITY.md#pages) and the network-level gates (docs/COMPATIBILITY.md#origin-and-cors,
// docs/COMPATIBILITY.md#network-authorization-gate).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestServer, eventually } from './helpers/server.js';

async function get(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<{ status: number; location: string | null; type: string | null; text: string }> {
  const res = await fetch(server.url + path, { redirect: 'manual', headers });
  return { status: res.status, location: res.headers.get('location'), type: res.headers.get('content-type'), text: await res.text() };
}

test('pages redirect as the reference does: / to Text2Image, Text2Image to Install until installed, then to Login without a login', async () => {
  const server = await TestServer.start({ settings: { 'UserAuthorization.AuthorizationRequired': true, 'UserAuthorization.AllowLocalhostBypass': false } });
  try {
    assert.deepEqual(await get(server, '/').then((r) => [r.status, r.location]), [302, 'Text2Image']);
    assert.deepEqual(await get(server, '/Text2Image').then((r) => [r.status, r.location]), [302, 'Install']);
    assert.equal((await server.cli(['settings', 'set', 'IsInstalled', 'true'])).code, 0);
    assert.ok(await eventually(async () => (await get(server, '/Text2Image')).location === 'Login'), 'the running server did not see IsInstalled');
    assert.deepEqual(await get(server, '/Text2Image').then((r) => [r.status, r.location]), [302, 'Login']);
    assert.deepEqual(await get(server, '/Install').then((r) => [r.status, r.location]), [302, 'Text2Image']);
    assert.deepEqual(await get(server, '/Register').then((r) => [r.status, r.location]), [302, 'Login']);
    const login = await get(server, '/Login');
    assert.equal(login.status, 200);
    assert.equal(login.type, 'text/html; charset=utf-8');
    assert.match(login.text, /<form/i);
  } finally {
    await server.close();
  }
});

test('unknown paths redirect to /Error/404, which answers 404; API GETs go to /Error/NoGetAPI', async () => {
  const server = await TestServer.start();
  try {
    assert.deepEqual(await get(server, '/no/such/page').then((r) => [r.status, r.location]), [302, '/Error/404']);
    const notFound = await get(server, '/Error/404');
    assert.equal(notFound.status, 404);
    // One file holds every explanation; each address shows only its own.
    assert.equal(notFound.text.match(/<section /g)?.length, 1);
    assert.match(notFound.text, /<section class="card" data-error="404" data-page-title="Page not found">/);
    const internal = await get(server, '/Error/Internal');
    assert.equal(internal.status, 500);
    const main = /<main[\s\S]*<\/main>/.exec(internal.text)![0];
    assert.match(main, /<h1 data-t>Something went wrong on the server<\/h1>/);
    assert.doesNotMatch(main, /This page does not exist/);
    assert.equal((await get(server, '/Error/NoGetAPI')).status, 200);
    assert.deepEqual(await get(server, '/API/GetNewSession').then((r) => [r.status, r.location]), [302, '/Error/NoGetAPI']);
    // Static files never leave web/.
    assert.deepEqual(await get(server, '/..%2fpackage.json').then((r) => [r.status, r.location]), [302, '/Error/404']);
    assert.deepEqual(await get(server, '/%2e%2e/%2e%2e/etc/passwd').then((r) => [r.status, r.location]), [302, '/Error/404']);
  } finally {
    await server.close();
  }
});

test('Network.RequiredAuthorization refuses every request without the exact header, unless from a bypass address', async () => {
  const server = await TestServer.start({ settings: { 'Network.RequiredAuthorization': 'Bearer s3cret', 'Network.AuthBypassIPs': '10.255.255.1' } });
  try {
    const refused = await fetch(`${server.url}/API/GetNewSession`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(refused.status, 401);
    assert.equal(await refused.text(), 'Unauthorized');
    assert.equal((await get(server, '/Login')).status, 401);
    const wrong = await server.api('GetNewSession', {}, { Authorization: 'Bearer s3cre' });
    assert.equal(wrong.status, 401);
    const ok = await server.api('GetNewSession', {}, { Authorization: 'Bearer s3cret' });
    assert.equal(ok.status, 200);
  } finally {
    await server.close();
  }
});

test('CORS: with an allowed origin every answer carries it and OPTIONS is answered 204', async () => {
  const server = await TestServer.start({ settings: { 'Network.AccessControlAllowOrigin': 'https://app.example' } });
  try {
    const pre = await fetch(`${server.url}/API/GetNewSession`, { method: 'OPTIONS' });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal(pre.headers.get('access-control-allow-methods'), '*');
    assert.equal(pre.headers.get('access-control-max-age'), '3600');
    const res = await server.api('GetNewSession');
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
  } finally {
    await server.close();
  }
});

test('an unparsable Origin header is ignored', async () => {
  const server = await TestServer.start();
  try {
    const res = await server.api('GetNewSession', {}, { Origin: 'null' });
    assert.equal(res.status, 200);
  } finally {
    await server.close();
  }
});

test("the user page gets its API-key rows from the server's key registry", async () => {
  const server = await TestServer.start({ settings: { IsInstalled: true } });
  try {
    const page = await get(server, '/Text2Image');
    assert.equal(page.status, 200);
    const data = JSON.parse(/<script type="application\/json" id="page-data">(.*?)<\/script>/.exec(page.text)![1]!) as { api_keys: unknown };
    assert.deepEqual(data.api_keys, [
      { type: 'civitai_api', title: 'Civitai', link: 'https://civitai.com/user/account' },
      { type: 'huggingface_api', title: 'Hugging Face', link: 'https://huggingface.co/settings/tokens' },
    ]);
  } finally {
    await server.close();
  }
});
