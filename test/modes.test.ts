// Accounts off (everyone is the local owner, X-SWARM-USER_ID picks a user) and the localhost bypass with
// accounts on (docs/COMPATIBILITY.md#request-user, docs/COMPATIBILITY.md#d4).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestServer } from './helpers/server.js';

describe('accounts off', () => {
  let server: TestServer;
  before(async () => {
    server = await TestServer.start();
  });
  after(() => server.close());

  test('a new session belongs to the local user, who is owner with the wildcard first', async () => {
    const res = await server.api('GetNewSession');
    assert.equal(res.body.user_id, 'local');
    const perms = res.body.permissions as string[];
    assert.equal(perms[0], '*');
    assert.equal(perms.length, 67); // every permission: the reference's 66 and swarmcore's view_audit_log
    assert.equal(res.body.version, '0.1.0');
    assert.match(res.body.server_id as string, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  test('X-SWARM-USER_ID creates a user with the DefaultUser.Roles role, not owner', async () => {
    const res = await server.api('GetNewSession', {}, { 'X-SWARM-USER_ID': 'Some.User<>' });
    assert.equal(res.body.user_id, 'SomeUser');
    const perms = res.body.permissions as string[];
    assert.ok(!perms.includes('*'));
    assert.ok(perms.includes('manage_presets'));
    assert.ok(!perms.includes('manage_users'));
  });

  test('token routes and Logout explain that accounts are off', async () => {
    const sid = await server.session();
    for (const route of ['ListMyAuthTokens', 'Logout']) {
      const res = await server.call(route, sid);
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.body), ['error'], route);
    }
  });
});

describe('accounts required, localhost bypass', () => {
  test('with the bypass on, a direct local connection is the local owner without logging in', async () => {
    const server = await TestServer.start({ settings: { 'UserAuthorization.AuthorizationRequired': true } });
    try {
      const res = await server.api('GetNewSession');
      assert.equal(res.body.user_id, 'local');
      // A forwarded request is not "direct", so it gets no bypass.
      const forwarded = await server.api('GetNewSession', {}, { 'X-Forwarded-For': '203.0.113.9' });
      assert.deepEqual(Object.keys(forwarded.body), ['error']);
    } finally {
      await server.close();
    }
  });

  test('a bypass session stops working for a request that no longer qualifies', async () => {
    const server = await TestServer.start({ settings: { 'UserAuthorization.AuthorizationRequired': true } });
    try {
      const sid = await server.session();
      assert.equal((await server.call('ListMyAuthTokens', sid)).status, 200);
      const res = await server.call('ListMyAuthTokens', sid, {}, { 'X-Forwarded-For': '203.0.113.9' });
      assert.equal(res.status, 401);
      assert.equal(res.body.error_id, 'invalid_session_id');
      // Ended for good, not just for that request.
      assert.equal((await server.call('ListMyAuthTokens', sid)).status, 401);
    } finally {
      await server.close();
    }
  });

  test('sessions made while accounts were off die when accounts become required', async () => {
    const server = await TestServer.start();
    const sid = await server.session();
    await server.stop();
    const again = await TestServer.start({ dataDir: server.dataDir, settings: { 'UserAuthorization.AuthorizationRequired': true, 'UserAuthorization.AllowLocalhostBypass': false } });
    try {
      assert.equal((await again.call('ListMyAuthTokens', sid)).status, 401);
    } finally {
      await again.close();
      await server.close();
    }
  });
});
