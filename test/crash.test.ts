// Crash safety (docs/COMPATIBILITY.md#storage): a write that answered success survives kill -9 of the server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestServer, prehash } from './helpers/server.js';

const SETTINGS = {
  'UserAuthorization.AuthorizationRequired': true,
  'UserAuthorization.AllowLocalhostBypass': false,
  'UserAuthorization.Registration.AllowRegistration': true,
  'UserAuthorization.Registration.SimplePasswordRegistration': true,
  'Network.TrustedProxies': '127.0.0.1',
};
const N = 40;

test('after N acknowledged registrations and token creations, kill -9 and restart: all N are there', async () => {
  let server = await TestServer.start({ settings: SETTINGS });
  const from = (i: number): Record<string, string> => ({ 'X-Forwarded-For': `10.9.0.${i}` });
  try {
    const names = Array.from({ length: N }, (_, i) => `crashuser${i}`);
    const registered = await Promise.all(names.map(async (name, i) => server.api('RegisterBasic', { username: name, password: await prehash(name, 'pw-for-crash') }, from(i))));
    registered.forEach((r) => assert.deepEqual(r.body, { success: 'true' }));
    const li = await server.api('Login', { username: names[0], password: await prehash(names[0]!, 'pw-for-crash') }, from(200));
    const token = /swarm_token=([^;]*)/.exec(li.headers.get('set-cookie')!)![1]!;
    const sid = (await server.api('GetNewSession', {}, { Cookie: `swarm_token=${token}`, ...from(201) })).body.session_id as string;
    const made = await Promise.all(Array.from({ length: N }, (_, i) => server.call('CreateAuthToken', sid, { reason: `token ${i}` })));
    const tokens = made.map((r) => r.body.token as string);
    tokens.forEach((t) => assert.match(t, /^[0-9a-f]+\.[0-9a-f]{32}\.[0-9a-f]{32}$/));

    await server.stop('SIGKILL');
    server = await TestServer.start({ dataDir: server.dataDir, settings: SETTINGS });

    const list = await server.cli(['user', 'list']);
    for (const name of names) assert.match(list.stdout, new RegExp(`^${name}\\troles=user\\tpassword=set$`, 'm'));
    const sessions = await Promise.all(tokens.map((t, i) => server.api('GetNewSession', {}, { 'X-Swarm-Token': t, ...from(100 + i) })));
    sessions.forEach((s) => assert.equal(s.body.user_id, names[0]));
    // The session made before the crash is still valid, and lists the login plus every created token.
    const listed = (await server.call('ListMyAuthTokens', sid)).body.tokens as Array<{ id: string; user_agent: string }>;
    assert.equal(listed.length, N + 1);
    assert.deepEqual(new Set(listed.slice(1).map((t) => t.id)), new Set(tokens.map((t) => t.split('.')[1])));
  } finally {
    await server.close();
  }
});
