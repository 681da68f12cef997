// The command line (README.md#command-line): account and settings administration, and one-line errors.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestServer, eventually, prehash, runCli } from './helpers/server.js';

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]): ReturnType<typeof runCli> => runCli([...args, '--data-dir', dir]);

/** A failure is exactly one line on stderr, no stack trace, exit code 1. */
function assertOneLineError(r: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

describe('user administration', () => {
  test('user add, list, set-role, set-password and delete', async () => {
    assert.equal((await cli('user', 'add', 'Eve_1', '--password', 'first-password')).stdout, "Created user 'eve_1' with role 'user'.\n");
    assert.match((await cli('user', 'list')).stdout, /^eve_1\troles=user\tpassword=set$/m);
    assert.equal((await cli('user', 'set-role', 'eve_1', 'poweruser')).code, 0);
    assert.match((await cli('user', 'list')).stdout, /^eve_1\troles=poweruser\tpassword=set$/m);
    assert.equal((await cli('user', 'set-password', 'eve_1', 'second-password')).code, 0);
    assert.equal((await cli('user', 'delete', 'eve_1')).code, 0);
    assert.doesNotMatch((await cli('user', 'list')).stdout, /eve_1/);
  });

  test('unknown users, unknown roles, taken names and short passwords are one-line errors', async () => {
    assertOneLineError(await cli('user', 'delete', 'ghost'), /^swarmcore: There is no user 'ghost'/);
    assertOneLineError(await cli('user', 'set-password', 'ghost', 'long-enough'), /There is no user 'ghost'/);
    assertOneLineError(await cli('user', 'add', 'zed', '--password', 'long-enough', '--role', 'wizard'), /There is no role 'wizard'\. Roles: owner, admin, poweruser, user, guest\./);
    assertOneLineError(await cli('user', 'add', 'zed', '--password', 'short'), /8 to 500 characters/);
    assert.equal((await cli('user', 'add', 'zed', '--password', 'long-enough')).code, 0);
    assertOneLineError(await cli('user', 'add', 'zed', '--password', 'long-enough'), /exists already/);
  });

  test('a user made by the CLI logs in over HTTP with the browser prehash of the plain password', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'swarmcore-cli-login-'));
    assert.equal((await runCli(['user', 'add', 'webby', '--password', 'typed password', '--data-dir', d])).code, 0);
    const server = await TestServer.start({ dataDir: d, settings: { 'UserAuthorization.AuthorizationRequired': true } });
    try {
      const res = await server.api('Login', { username: 'webby', password: await prehash('webby', 'typed password') });
      assert.deepEqual(res.body, { success: 'true' });
    } finally {
      await server.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('settings', () => {
  test('settings set and get round-trip with type conversion; unknown keys and bad values are one-line errors', async () => {
    assert.equal((await cli('settings', 'set', 'userauthorization.authorizationrequired', 'TRUE')).stdout, 'UserAuthorization.AuthorizationRequired = true\n');
    assert.equal((await cli('settings', 'get', 'UserAuthorization.AuthorizationRequired')).stdout, 'true\n');
    assert.equal((await cli('settings', 'set', 'Network.TrustedProxies', '10.0.0.1, 10.0.0.2')).stdout, 'Network.TrustedProxies = 10.0.0.1,10.0.0.2\n');
    assert.match((await cli('settings', 'get')).stdout, /^Network\.Port = 7801$/m);
    assertOneLineError(await cli('settings', 'get', 'No.Such'), /^swarmcore: Unknown setting 'No\.Such'/);
    assertOneLineError(await cli('settings', 'set', 'Network.Port', 'abc'), /Network\.Port takes a whole number/);
  });

  test('settings set refuses values a setting cannot hold, in one line naming the setting and what it takes, and keeps the old value', async () => {
    const cases: [string, string, RegExp][] = [
      ['DefaultUser.Theme', 'nosuch', /^swarmcore: Setting DefaultUser\.Theme must be one of: modern_dark, modern_light, solarized, .*; not 'nosuch'$/],
      ['DefaultUser.Language', 'xx', /^swarmcore: Setting DefaultUser\.Language must be one of: .*\ben\b.*; not 'xx'$/],
      ['DefaultUser.Roles', 'user,wizard', /^swarmcore: Setting DefaultUser\.Roles lists roles that do not exist: 'wizard'; roles: owner, admin, poweruser, user, guest$/],
      ['UserAuthorization.Registration.NewUserDefaultRole', 'wizard', /^swarmcore: Setting UserAuthorization\.Registration\.NewUserDefaultRole must be one of: owner, admin, poweruser, user, guest; not 'wizard'$/],
      ['UserAuthorization.LoginTokenIdleDays', '0', /^swarmcore: Setting UserAuthorization\.LoginTokenIdleDays must be from 1 to 36500, not 0$/],
      ['UserAuthorization.LoginTokenIdleDays', '-5', /^swarmcore: Setting UserAuthorization\.LoginTokenIdleDays must be from 1 to 36500, not -5$/],
      ['Network.MaxNetworkRequestMegabytes', '4096', /^swarmcore: Setting Network\.MaxNetworkRequestMegabytes must be from 1 to 2048, not 4096$/],
      ['Network.Port', '70000', /^swarmcore: Setting Network\.Port must be from 0 to 65535, not 70000$/],
      ['Network.MaxXForwardedFor', '1000', /^swarmcore: Setting Network\.MaxXForwardedFor must be from 0 to 100, not 1000$/],
      ['Install.Backend', 'magic', /^swarmcore: Setting Install\.Backend must be one of: \(empty\), comfyui, none; not 'magic'$/],
    ];
    for (const [key, value, error] of cases) {
      const before = (await cli('settings', 'get', key)).stdout;
      assertOneLineError(await cli('settings', 'set', key, value), error);
      assert.equal((await cli('settings', 'get', key)).stdout, before, key);
    }
    assert.equal((await cli('settings', 'set', 'DefaultUser.Theme', 'ctp_mocha')).stdout, 'DefaultUser.Theme = ctp_mocha\n');
    assert.equal((await cli('settings', 'set', 'DefaultUser.Roles', 'user,poweruser')).stdout, 'DefaultUser.Roles = user,poweruser\n');
  });

  test('a secret setting is not printed', async () => {
    await cli('settings', 'set', 'Network.RequiredAuthorization', 'Bearer hunter2');
    assert.equal((await cli('settings', 'get', 'Network.RequiredAuthorization')).stdout, '(secret)\n');
    await cli('settings', 'set', 'Network.RequiredAuthorization', '');
  });
});

describe('serve', () => {
  test('a taken port is a one-line error', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const d = mkdtempSync(path.join(tmpdir(), 'swarmcore-port-'));
      assertOneLineError(await runCli(['serve', '--data-dir', d, '--port', String(port)]), new RegExp(`^swarmcore: Port ${port} on 127\\.0\\.0\\.1 is already in use`));
      rmSync(d, { recursive: true, force: true });
    } finally {
      blocker.close();
    }
  });

  test('an unusable data directory is a one-line error', async () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    assertOneLineError(await runCli(['serve', '--data-dir', path.join(file, 'sub')]), /^swarmcore: The data directory .* is not writable \(ENOTDIR\)/);
  });

  test('an unknown --set key and a bad --port are one-line errors', async () => {
    assertOneLineError(await runCli(['serve', '--data-dir', dir, '--set', 'Nope.Nothing=1']), /Unknown setting 'Nope\.Nothing'/);
    assertOneLineError(await runCli(['serve', '--data-dir', dir, '--port', 'eighty']), /^swarmcore: --port must be a number from 0 to 65535, not 'eighty'\.$/);
  });

  test('SWARMCORE_PORT that is not a port is a one-line error naming the variable; --port wins over it', async () => {
    for (const value of ['notaport', '70000', '80x', '']) {
      assertOneLineError(await runCli(['serve', '--data-dir', dir], { SWARMCORE_PORT: value }), new RegExp(`^swarmcore: SWARMCORE_PORT must be a number from 0 to 65535, not '${value}'\\.$`));
    }
    assertOneLineError(await runCli(['serve', '--data-dir', dir, '--port', 'x'], { SWARMCORE_PORT: 'notaport' }), /^swarmcore: --port must be a number/);
  });

  test('--set refuses values a setting cannot hold before the server starts, naming the setting and what it takes', async () => {
    const cases: [string, RegExp][] = [
      ['DefaultUser.Theme=nosuch', /^swarmcore: Setting DefaultUser\.Theme must be one of: modern_dark, .*; not 'nosuch'$/],
      ['UserAuthorization.LoginTokenIdleDays=-5', /^swarmcore: Setting UserAuthorization\.LoginTokenIdleDays must be from 1 to 36500, not -5$/],
      ['DefaultUser.Roles=wizard', /^swarmcore: Setting DefaultUser\.Roles lists roles that do not exist: 'wizard'; roles: owner, admin, poweruser, user, guest$/],
      ['DefaultUser.FileFormat.ImageQuality=101', /^swarmcore: Setting DefaultUser\.FileFormat\.ImageQuality must be from 1 to 100, not 101$/],
      ['DefaultUser.Audio.Volume=2', /^swarmcore: Setting DefaultUser\.Audio\.Volume must be from 0 to 1, not 2$/],
    ];
    for (const [set, error] of cases) assertOneLineError(await runCli(['serve', '--data-dir', dir, '--port', '0', '--set', set]), error);
  });

  test('a change made with the CLI reaches a running server', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'swarmcore-live-'));
    const server = await TestServer.start({ dataDir: d });
    try {
      const sid = await server.session({ 'X-SWARM-USER_ID': 'victim' });
      assert.equal((await server.call('ListMyAuthTokens', sid)).status, 200);
      assert.equal((await server.cli(['user', 'delete', 'victim'])).code, 0);
      assert.ok(await eventually(async () => (await server.call('ListMyAuthTokens', sid)).status === 401), "the deleted user's session still works");
      assert.equal((await server.cli(['settings', 'set', 'UserAuthorization.AuthorizationRequired', 'true'])).code, 0);
      const refused = async (): Promise<boolean> => Object.keys((await server.api('GetNewSession', {}, { 'X-Forwarded-For': '203.0.113.1' })).body).join() === 'error';
      assert.ok(await eventually(refused), 'accounts are still off on the running server');
    } finally {
      await server.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
