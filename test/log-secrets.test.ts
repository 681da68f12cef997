// What the server writes to its log at the most verbose level, checked line by line for the secrets a session
// used. Real server on a real SQLite file, real HTTP, a user created by the CLI.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { eventually, prehash, runCli, TestServer } from './helpers/server.js';

const ACCOUNTS_ON = { 'UserAuthorization.AuthorizationRequired': true, 'UserAuthorization.AllowLocalhostBypass': false, 'Network.TrustedProxies': '127.0.0.1' };
let n = 1;
const client = (): Record<string, string> => ({ 'X-Forwarded-For': `10.9.0.${n++}` });

let server: TestServer;
/** The secrets the flow used, by name. */
let secrets: Record<string, string> = {};
before(async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-logs-'));
  assert.equal((await runCli(['user', 'add', 'logwriter', '--password', 'first-Pa55word', '--data-dir', dataDir])).code, 0);
  server = await TestServer.start({ dataDir, settings: ACCOUNTS_ON, args: ['--log-level', 'trace'] });
  secrets = await accountFlow();
});
after(() => server.close());

/** Sends the headers and part of a body that promises more, then hangs up. */
function abortedBody(sessionId: string): Promise<void> {
  const url = new URL(server.url);
  const part = `{"session_id":"${sessionId}","title":"never finished`;
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(`POST /API/AddNewPreset HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\nX-Session-Id: ${sessionId}\r\n\r\n${part}`, () => {
        setTimeout(() => socket.destroy(), 100);
      });
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

const lines = (): string[] => server.output.split('\n').filter((l) => l.trim() !== '');

/** A whole account session: logins (one wrong), tokens, an API key, interrupts, client mistakes, a password change, logout. */
async function accountFlow(): Promise<Record<string, string>> {
  const password = 'first-Pa55word';
  const newPassword = 'second-Pa55word';
  const passwordPrehash = await prehash('logwriter', password);
  const newPrehash = await prehash('logwriter', newPassword);
  // A wrong password first: a client mistake, and a prehash that must not be echoed either.
  const wrongPrehash = await prehash('logwriter', 'not-the-password');
  assert.deepEqual((await server.api('Login', { username: 'logwriter', password: wrongPrehash }, client())).body, { error_id: 'invalid_login' });

  const login = await server.api('Login', { username: 'logwriter', password: passwordPrehash }, client());
  const token = /swarm_token=([^;]*)/.exec(login.headers.get('set-cookie') ?? '')![1]!;
  const sid = (await server.api('GetNewSession', {}, { Cookie: `swarm_token=${token}`, ...client() })).body.session_id as string;
  const otherSid = (await server.api('GetNewSession', {}, { 'X-Swarm-Token': token, ...client() })).body.session_id as string;
  assert.equal(typeof sid, 'string');
  assert.equal(typeof otherSid, 'string');
  const apiToken = (await server.call('CreateAuthToken', sid, { reason: 'log check' })).body.token as string;
  assert.equal(typeof apiToken, 'string');
  const apiKey = 'civ-LogCheck-7f3a9b2c';
  assert.deepEqual((await server.call('SetAPIKey', sid, { keyType: 'civitai_api', key: apiKey })).body, { success: true });
  assert.deepEqual((await server.call('InterruptAll', sid, { other_sessions: true })).body, { success: true });
  // Client mistakes: a soft error, a wrong old password, a made-up session id, broken JSON, a cut-off body.
  assert.ok('error' in (await server.call('SetAPIKey', sid, { keyType: 'no_such_api', key: apiKey })).body);
  const madeUpSid = 'f'.repeat(40);
  assert.equal((await server.call('GetMyUserData', madeUpSid)).body.error_id, 'invalid_session_id');
  assert.equal((await server.api('GetMyUserData', `{"session_id":"${sid}",`)).status, 400);
  await abortedBody(sid);
  assert.ok('error' in (await server.call('ChangePassword', sid, { oldPassword: wrongPrehash, newPassword: newPrehash })).body);
  assert.deepEqual((await server.call('ChangePassword', sid, { oldPassword: passwordPrehash, newPassword: newPrehash })).body, { success: true });
  assert.deepEqual((await server.call('Logout', sid, {}, { Cookie: `swarm_token=${token}` })).body, { success: 'true' });
  // The server is still answering, and the logout ended the session.
  assert.equal((await server.call('GetMyUserData', sid)).status, 401);

  // The log is verbose enough to have said something about this flow, the cut-off body included.
  assert.ok(await eventually(async () => lines().some((l) => l.includes('user stopped the work of all their sessions'))));
  assert.ok(await eventually(async () => lines().some((l) => l.toLowerCase().includes('addnewpreset'))), 'the cut-off body was not logged at all');
  return {
    'session id': sid,
    'other session id': otherSid,
    'made-up session id': madeUpSid,
    'login token': token,
    'login token secret part': token.split('.').at(-1)!,
    'API login token': apiToken,
    'API login token secret part': apiToken.split('.').at(-1)!,
    password,
    'new password': newPassword,
    prehash: passwordPrehash,
    'new prehash': newPrehash,
    'wrong prehash': wrongPrehash,
    'API key': apiKey,
  };
}

test('no log line at any level holds a session id, login token, password, prehash or API key', () => {
  assert.ok(lines().length > 2);
  for (const line of lines()) {
    for (const [what, secret] of Object.entries(secrets)) assert.ok(!line.includes(secret), `a log line holds the ${what}: ${line.slice(0, 300)}`);
  }
});

test('client mistakes, a cut-off request body included, are logged at debug without a stack', () => {
  for (const line of lines().filter((l) => l.startsWith('{'))) {
    const entry = JSON.parse(line) as { level: number; msg: string };
    if (entry.msg.startsWith('swarmcore ')) continue;
    // Every other line in this flow comes from something the client did.
    assert.ok(entry.level <= 20, `logged above debug: ${line.slice(0, 300)}`);
    assert.ok(!line.includes('"stack"'), `logged with a stack: ${line.slice(0, 300)}`);
  }
});
