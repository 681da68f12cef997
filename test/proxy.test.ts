// swarmcore behind a real nginx (docs/DEPLOY.md#several-instances-behind-nginx): Debian's nginx runs as this test's
// own process with the repository's deploy/nginx/swarmcore.conf (only ports, certificate and log paths changed),
// TLS from a certificate made here, in front of two instances on one fresh PostgreSQL database. Every "client"
// connects from its own loopback address (127.0.0.x), so nginx sees distinct client addresses as it would on a
// network.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ADMIN_URL, createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { ROOT, TestServer, eventually, needsService, prehash } from './helpers/server.js';
import { JUST_SELF_INSTALL, JUST_SELF_INSTALL_MESSAGES } from './helpers/install.js';

const NGINX_CONF = path.join(ROOT, 'deploy/nginx/swarmcore.conf');
const INSTANCE_SETTINGS = {
  'UserAuthorization.AuthorizationRequired': true,
  'UserAuthorization.AllowLocalhostBypass': false,
  // nginx connects to the instances from 127.0.0.1.
  'Network.TrustedProxies': '127.0.0.1',
};
const NOT_LOGGED_IN = { error: 'You are not logged in, or your login has expired.' };
const ENDED = { error: 'Invalid session ID. You may need to refresh the page.', error_id: 'invalid_session_id' };

/** Debian puts nginx in /usr/sbin, which is not on every user's PATH. */
function findNginx(): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter((d) => d !== ''), '/usr/sbin', '/usr/local/sbin']) {
    const candidate = path.join(dir, 'nginx');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}
const hasOpenssl = (): boolean => spawnSync('openssl', ['version']).status === 0;

/** Ports nothing listens on now, all different (each is held until all are known). */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => net.createServer());
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Replaces a value that must occur exactly once in the repository's config (so the file cannot drift unnoticed). */
function replaceOnce(text: string, from: string, to: string): string {
  const parts = text.split(from);
  assert.equal(parts.length, 2, `deploy/nginx/swarmcore.conf should contain '${from}' exactly once`);
  return parts.join(to);
}

interface Nginx {
  proc: ChildProcess;
  httpsPort: number;
  httpPort: number;
  ca: Buffer;
  dir: string;
  accessLog: string;
  errorLog: string;
}

/** Makes a self-signed certificate for 127.0.0.1 and localhost and starts nginx with the repository's config. */
async function startNginx(binary: string, upstreamPorts: [number, number]): Promise<Nginx> {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-nginx-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const [httpsPort, httpPort] = (await freePorts(2)) as [number, number];
  const accessLog = path.join(dir, 'access.log');
  const errorLog = path.join(dir, 'error.log');
  let site = readFileSync(NGINX_CONF, 'utf8');
  site = replaceOnce(site, 'server 127.0.0.1:7801 ', `server 127.0.0.1:${upstreamPorts[0]} `);
  site = replaceOnce(site, 'server 127.0.0.1:7802 ', `server 127.0.0.1:${upstreamPorts[1]} `);
  site = replaceOnce(site, 'listen 443 ssl;', `listen 127.0.0.1:${httpsPort} ssl;`);
  site = replaceOnce(site, 'listen 80;', `listen 127.0.0.1:${httpPort};`);
  site = replaceOnce(site, '/etc/ssl/swarmcore/fullchain.pem', cert);
  site = replaceOnce(site, '/etc/ssl/swarmcore/privkey.pem', key);
  site = replaceOnce(site, '/var/log/nginx/swarmcore.access.log', accessLog);
  writeFileSync(path.join(dir, 'swarmcore.conf'), site);
  // The main config an nginx package ships, cut down to what runs as this test's process: one process, in the
  // foreground, every file under the test's own prefix directory (no root needed).
  const main = [
    'daemon off;',
    'master_process off;',
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${errorLog} info;`,
    'events { worker_connections 256; }',
    'http {',
    `  client_body_temp_path ${path.join(dir, 'client_body')};`,
    `  proxy_temp_path ${path.join(dir, 'proxy')};`,
    `  fastcgi_temp_path ${path.join(dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${path.join(dir, 'uwsgi')};`,
    `  scgi_temp_path ${path.join(dir, 'scgi')};`,
    `  access_log ${path.join(dir, 'other.log')};`,
    '  include swarmcore.conf;',
    '}',
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'nginx.conf'), main);
  const check = spawnSync(binary, ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', errorLog], { encoding: 'utf8' });
  assert.equal(check.status, 0, `nginx -t refused the config:\n${check.stderr}`);
  const proc = spawn(binary, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', errorLog], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const ca = readFileSync(cert);
  const up = await eventually(async () => {
    if (proc.exitCode !== null) return true;
    return new Promise<boolean>((resolve) => {
      const socket = net.connect(httpsPort, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
  });
  assert.ok(up && proc.exitCode === null, `nginx did not start:\n${output}\n${existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : ''}`);
  return { proc, httpsPort, httpPort, ca, dir, accessLog, errorLog };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  text: string;
}

/** One request on its own connection from `from` (a loopback address): HTTPS to nginx, or plain HTTP. */
function request(url: string, options: { from: string; ca?: Buffer; method?: string; body?: string; headers?: Record<string, string> }): Promise<Answer> {
  const target = new URL(url);
  const lib = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      target,
      {
        method: options.method ?? 'POST',
        localAddress: options.from,
        agent: false,
        ...(options.ca ? { ca: options.ca } : {}),
        headers: { ...(options.body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(options.body)) } : {}), ...options.headers },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // non-JSON answers are checked through `text`
          }
          resolve({ status: res.statusCode!, headers: res.headers, body, text });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

let nginxBinary: string | null = null;
let pgUp = false;
let db: { url: string; drop: () => Promise<void> } | undefined;
let a: TestServer | undefined;
let b: TestServer | undefined;
let nginx: Nginx | undefined;

const NEEDS = (): [boolean, string] => {
  if (!pgUp) return [false, `PostgreSQL is not reachable at ${new URL(ADMIN_URL).host}`];
  if (!nginxBinary) return [false, 'nginx is not installed (apt-get install nginx; Debian puts it in /usr/sbin)'];
  if (!hasOpenssl()) return [false, 'the openssl command is not installed'];
  return [true, ''];
};
const ready = (t: { skip(message?: string): void }): boolean => needsService(t, ...NEEDS());

/** An API call through nginx over HTTPS, from a client at `from`. */
function viaNginx(from: string, route: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  sentToNginx++;
  return request(`https://127.0.0.1:${nginx!.httpsPort}/API/${route}`, { from, ca: nginx!.ca, body: JSON.stringify(body), headers });
}
/** An API call straight to an instance over plain HTTP, from `from`. */
const direct = (server: TestServer, from: string, route: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> =>
  request(`${server.url}/API/${route}`, { from, body: JSON.stringify(body), headers });

const tokenOf = (answer: Answer): string => /swarm_token=([^;]*)/.exec(String(answer.headers['set-cookie'] ?? ''))![1]!;
const upstreamOf = (server: TestServer): string => new URL(server.url).host;

/** The access log lines written since `mark` (from logMark): request line, status and the instance that answered. */
function accessSince(mark: number): Array<{ request: string; status: string; upstream: string; upstreamStatus: string }> {
  const text = logText().slice(mark);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = /"([^"]*)" (\d{3}) \d+ upstream=(.*) upstream_status=(.*) time=/.exec(l);
      assert.ok(m, `unexpected access log line: ${l}`);
      return { request: m[1]!, status: m[2]!, upstream: m[3]!, upstreamStatus: m[4]! };
    });
}
const logText = (): string => (existsSync(nginx!.accessLog) ? readFileSync(nginx!.accessLog, 'utf8') : '');
/** Requests sent to nginx's HTTPS server so far; each gets one access log line once nginx has finished it. */
let sentToNginx = 0;
/** Where the access log stands once every request sent so far is in it (nginx logs just after it answers). */
async function logMark(): Promise<number> {
  assert.ok(await eventually(async () => logText().split('\n').length - 1 === sentToNginx), `nginx logged ${logText().split('\n').length - 1} of ${sentToNginx} requests`);
  return logText().length;
}

before(async () => {
  nginxBinary = findNginx();
  pgUp = await postgresAvailable();
  if (!NEEDS()[0]) return;
  db = await createTestDatabase();
  [a, b] = await Promise.all([TestServer.start({ databaseUrl: db.url, settings: INSTANCE_SETTINGS }), TestServer.start({ databaseUrl: db.url, settings: INSTANCE_SETTINGS })]);
  for (const [name, role] of [
    ['alice', 'user'],
    ['bob', 'user'],
    ['carol', 'user'],
    ['dave', 'user'],
    ['erin', 'user'],
    ['frank', 'user'],
    ['grace', 'user'],
    ['boss', 'owner'],
  ] as const) {
    const r = await a.cli(['user', 'add', name, '--password', `${name}-password`, '--role', role]);
    assert.equal(r.code, 0, r.stderr);
  }
  nginx = await startNginx(nginxBinary!, [Number(new URL(a.url).port), Number(new URL(b.url).port)]);
});

after(async () => {
  if (nginx && nginx.proc.exitCode === null) {
    const exited = new Promise((resolve) => nginx!.proc.once('exit', resolve));
    nginx.proc.kill('SIGTERM');
    await exited;
  }
  await a?.close();
  await b?.close();
  await db?.drop();
  if (nginx) rmSync(nginx.dir, { recursive: true, force: true });
});

describe('two instances behind nginx with TLS', () => {
  test('Login, GetNewSession, GetMyUserData and Logout work through nginx over HTTPS, and the two instances take turns', async (t) => {
    if (!ready(t)) return;
    const from = '127.0.0.10';
    const mark = await logMark();
    const login = await viaNginx(from, 'Login', { username: 'alice', password: await prehash('alice', 'alice-password') });
    assert.deepEqual([login.status, login.body], [200, { success: 'true' }]);
    const token = tokenOf(login);
    const opened = await viaNginx(from, 'GetNewSession', {}, { Cookie: `swarm_token=${token}` });
    assert.equal(opened.body.user_id, 'alice');
    const sid = opened.body.session_id as string;
    const data = await viaNginx(from, 'GetMyUserData', { session_id: sid }, { Cookie: `swarm_token=${token}` });
    assert.deepEqual([data.status, data.body.user_name, data.body.presets], [200, 'alice', []]);
    const out = await viaNginx(from, 'Logout', { session_id: sid }, { Cookie: `swarm_token=${token}` });
    assert.deepEqual(out.body, { success: 'true' });
    assert.match(String(out.headers['set-cookie']), /^swarm_token=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=\/; SameSite=Lax; HttpOnly; Secure$/);
    // nginx's access log names the instance that answered each call: round robin sent them to both, in turn.
    assert.ok(await eventually(async () => accessSince(mark).length === 4), 'nginx logged every call');
    const lines = accessSince(mark);
    assert.deepEqual(
      lines.map((l) => [l.request, l.status]),
      ['Login', 'GetNewSession', 'GetMyUserData', 'Logout'].map((r) => [`POST /API/${r} HTTP/1.1`, '200']),
    );
    const upstreams = lines.map((l) => l.upstream);
    assert.deepEqual(new Set(upstreams), new Set([upstreamOf(a!), upstreamOf(b!)]));
    for (let i = 1; i < upstreams.length; i++) assert.notEqual(upstreams[i], upstreams[i - 1], `consecutive calls went to one instance: ${upstreams.join(', ')}`);
  });

  test('a logout through one instance is honoured by the other: its session and login token are refused there', async (t) => {
    if (!ready(t)) return;
    const from = '127.0.0.11';
    const token = tokenOf(await viaNginx(from, 'Login', { username: 'bob', password: await prehash('bob', 'bob-password') }));
    const sid = (await viaNginx(from, 'GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body.session_id as string;
    // Both instances know the session (each has it cached) before the logout.
    for (const s of [a!, b!]) assert.equal((await direct(s, '127.0.0.1', 'GetMyUserData', { session_id: sid })).body.user_name, 'bob');
    const mark = await logMark();
    assert.deepEqual((await viaNginx(from, 'Logout', { session_id: sid }, { Cookie: `swarm_token=${token}` })).body, { success: 'true' });
    assert.ok(await eventually(async () => accessSince(mark).length === 1));
    const servedBy = accessSince(mark)[0]!.upstream;
    assert.ok([upstreamOf(a!), upstreamOf(b!)].includes(servedBy), servedBy);
    const other = servedBy === upstreamOf(a!) ? b! : a!;
    assert.ok(await eventually(async () => (await direct(other, '127.0.0.1', 'GetMyUserData', { session_id: sid })).status === 401), 'the other instance still serves the session');
    assert.deepEqual((await direct(other, '127.0.0.1', 'GetMyUserData', { session_id: sid })).body, ENDED);
    assert.deepEqual((await direct(other, '127.0.0.1', 'GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body, NOT_LOGGED_IN);
    // And through nginx, whichever instance answers.
    for (let i = 0; i < 2; i++) assert.deepEqual((await viaNginx(from, 'GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body, NOT_LOGGED_IN);
  });

  test('the login cookie is Secure through nginx (X-Forwarded-Proto from the trusted proxy) and not over plain HTTP straight to an instance', async (t) => {
    if (!ready(t)) return;
    const password = await prehash('carol', 'carol-password');
    const proxied = await viaNginx('127.0.0.12', 'Login', { username: 'carol', password });
    assert.match(String(proxied.headers['set-cookie']), /^swarm_token=[^;]+; Expires=[^;]+; Max-Age=31536000; Path=\/; SameSite=Lax; HttpOnly; Secure$/);
    const plain = await direct(a!, '127.0.0.1', 'Login', { username: 'carol', password });
    assert.match(String(plain.headers['set-cookie']), /^swarm_token=[^;]+; Expires=[^;]+; Max-Age=31536000; Path=\/; SameSite=Lax; HttpOnly$/);
    // A peer that is not a trusted proxy cannot claim HTTPS.
    const claimed = await direct(a!, '127.0.0.13', 'Login', { username: 'carol', password }, { 'X-Forwarded-Proto': 'https' });
    assert.deepEqual(claimed.body, { success: 'true' });
    assert.doesNotMatch(String(claimed.headers['set-cookie']), /Secure/);
  });

  test('plain HTTP to nginx is only redirected to HTTPS, never proxied', async (t) => {
    if (!ready(t)) return;
    const mark = await logMark();
    const res = await request(`http://127.0.0.1:${nginx!.httpPort}/API/Login`, { from: '127.0.0.14', body: '{}' });
    assert.deepEqual([res.status, res.headers.location], [301, 'https://127.0.0.1/API/Login']);
    assert.match(res.text, /<center>nginx<\/center>/);
    assert.equal(await logMark(), mark, 'the redirect reached no instance');
  });

  test('/metrics is not served through nginx: each instance is scraped on its own address', async (t) => {
    if (!ready(t)) return;
    const mark = await logMark();
    sentToNginx++;
    const res = await request(`https://127.0.0.1:${nginx!.httpsPort}/metrics`, { from: '127.0.0.15', ca: nginx!.ca, method: 'GET' });
    assert.equal(res.status, 404);
    assert.ok(await eventually(async () => accessSince(mark).length === 1));
    assert.deepEqual(accessSince(mark).map((l) => [l.request, l.status, l.upstream]), [['GET /metrics HTTP/1.1', '404', '-']]);
  });

  test('the login limit counts the client address nginx saw: one client limited leaves another alone, and a spoofed X-Forwarded-For changes nothing', async (t) => {
    if (!ready(t)) return;
    const wrong = await prehash('dave', 'not-his-password');
    const right = await prehash('dave', 'dave-password');
    // Client .20 tries five wrong passwords, each with a different made-up X-Forwarded-For: nginx appends the
    // address it saw, and the instances take the right-most address that is not a trusted proxy.
    for (let i = 0; i < 5; i++) {
      const res = await viaNginx('127.0.0.20', 'Login', { username: 'dave', password: wrong }, { 'X-Forwarded-For': `198.51.100.${i + 1}` });
      assert.deepEqual(res.body, { error_id: 'invalid_login' }, `attempt ${i + 1}`);
    }
    assert.deepEqual((await viaNginx('127.0.0.20', 'Login', { username: 'dave', password: right }, { 'X-Forwarded-For': '198.51.100.99' })).body, { error_id: 'ratelimit' });
    assert.deepEqual((await viaNginx('127.0.0.20', 'Login', { username: 'dave', password: right })).body, { error_id: 'ratelimit' });
    // Another client through the same nginx (so from the same proxy address) is not limited, even when it claims
    // to be the limited one.
    assert.deepEqual((await viaNginx('127.0.0.21', 'Login', { username: 'dave', password: right })).body, { success: 'true' });
    assert.deepEqual((await viaNginx('127.0.0.22', 'Login', { username: 'dave', password: right }, { 'X-Forwarded-For': '127.0.0.20' })).body, { success: 'true' });
  });

  test('straight to an instance from a peer that is not a trusted proxy, X-Forwarded-For is ignored: a new address per attempt does not escape the limit', async (t) => {
    if (!ready(t)) return;
    const wrong = await prehash('erin', 'not-her-password');
    const results: unknown[] = [];
    for (let i = 0; i < 6; i++) results.push((await direct(i % 2 === 0 ? a! : b!, '127.0.0.30', 'Login', { username: 'erin', password: wrong }, { 'X-Forwarded-For': `203.0.113.${i + 1}` })).body);
    assert.deepEqual(results, [...Array<unknown>(5).fill({ error_id: 'invalid_login' }), { error_id: 'ratelimit' }]);
    // The addresses it claimed were never counted: a client really at one of them is not limited.
    assert.deepEqual((await viaNginx('127.0.0.31', 'Login', { username: 'erin', password: await prehash('erin', 'erin-password') }, { 'X-Forwarded-For': '203.0.113.1' })).body, { success: 'true' });
  });

  test('a body over nginx’s own 1 MiB default passes: client_max_body_size follows Network.MaxNetworkRequestMegabytes', async (t) => {
    if (!ready(t)) return;
    const from = '127.0.0.40';
    const token = tokenOf(await viaNginx(from, 'Login', { username: 'frank', password: await prehash('frank', 'frank-password') }));
    const sid = (await viaNginx(from, 'GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body.session_id as string;
    const models = Array.from({ length: 3000 }, (_, i) => `${String(i).padStart(4, '0')}-${'m'.repeat(500)}.safetensors`);
    const body = { session_id: sid, 'Stable-Diffusion': models };
    assert.ok(JSON.stringify(body).length > 1.4 * 1024 * 1024);
    const res = await viaNginx(from, 'SetStarredModels', body);
    assert.deepEqual([res.status, res.body], [200, { success: true }]);
    const starred = (await viaNginx(from, 'GetMyUserData', { session_id: sid })).body.starred_models as Record<string, string[]>;
    assert.deepEqual(starred['Stable-Diffusion'], models);
  });
});

describe('WebSocket routes through nginx', () => {
  /** Opens a WebSocket route through nginx, sends `input`, collects messages until the server closes. */
  function socket(from: string, route: string, input: unknown, origin?: string): Promise<{ messages: Record<string, unknown>[]; code: number } | { refused: number; text: string }> {
    sentToNginx++;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${nginx!.httpsPort}/API/${route}`, { ca: nginx!.ca, localAddress: from, ...(origin ? { origin } : {}) });
      const messages: Record<string, unknown>[] = [];
      ws.on('open', () => ws.send(JSON.stringify(input)));
      ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
      ws.on('close', (code) => resolve({ messages, code }));
      ws.on('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ refused: res.statusCode!, text }));
      });
      ws.on('error', reject);
    });
  }

  test('InstallConfirmWS runs through nginx (Upgrade passed on), and the installed state is seen through the other instance', async (t) => {
    if (!ready(t)) return;
    const from = '127.0.0.50';
    const origin = `https://127.0.0.1:${nginx!.httpsPort}`;
    const token = tokenOf(await viaNginx(from, 'Login', { username: 'boss', password: await prehash('boss', 'boss-password') }));
    const sid = (await viaNginx(from, 'GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body.session_id as string;
    const input = { session_id: sid, ...JUST_SELF_INSTALL };
    const mark = await logMark();
    const first = await socket(from, 'InstallConfirmWS', input, origin);
    assert.deepEqual(first, {
      messages: JUST_SELF_INSTALL_MESSAGES,
      code: 1000,
    });
    // The next socket goes to the other instance, which sees the installation through the shared database.
    const second = await socket(from, 'InstallConfirmWS', input, origin);
    assert.deepEqual(second, { messages: [{ error: 'This server is already installed.' }], code: 1000 });
    assert.ok(await eventually(async () => accessSince(mark).length === 2));
    const lines = accessSince(mark);
    assert.deepEqual(
      lines.map((l) => [l.request, l.status]),
      [
        ['GET /API/InstallConfirmWS HTTP/1.1', '101'],
        ['GET /API/InstallConfirmWS HTTP/1.1', '101'],
      ],
    );
    assert.deepEqual(new Set(lines.map((l) => l.upstream)), new Set([upstreamOf(a!), upstreamOf(b!)]));
  });

  test('the Host nginx passes on keeps the port, so the WebSocket origin check accepts this site and refuses another', async (t) => {
    if (!ready(t)) return;
    const from = '127.0.0.51';
    const sid = (await viaNginx(from, 'GetNewSession', {}, { Cookie: `swarm_token=${tokenOf(await viaNginx(from, 'Login', { username: 'alice', password: await prehash('alice', 'alice-password') }))}` })).body.session_id as string;
    const input = { session_id: sid, ...JUST_SELF_INSTALL };
    // alice may not install: the route answers over the socket, so the upgrade itself went through.
    assert.deepEqual(await socket(from, 'InstallConfirmWS', input, `https://127.0.0.1:${nginx!.httpsPort}`), { messages: [{ error: 'You lack permission for this route.', error_id: 'bad_permissions' }], code: 1000 });
    const foreign = await socket(from, 'InstallConfirmWS', input, 'https://evil.example');
    assert.equal('refused' in foreign && foreign.refused, 403);
    assert.equal('refused' in foreign && JSON.parse(foreign.text).error_id, 'cross_origin');
  });
});

describe('when an instance stops', () => {
  test('nginx sends every request to the instance still running, the one a request found stopped included', async (t) => {
    if (!ready(t)) return;
    await b!.stop('SIGTERM');
    const from = '127.0.0.60';
    const mark = await logMark();
    const token = tokenOf(await viaNginx(from, 'Login', { username: 'grace', password: await prehash('grace', 'grace-password') }));
    const sid = (await viaNginx(from, 'GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body.session_id as string;
    for (let i = 0; i < 4; i++) assert.equal((await viaNginx(from, 'GetMyUserData', { session_id: sid })).body.user_name, 'grace');
    assert.ok(await eventually(async () => accessSince(mark).length === 6));
    const lines = accessSince(mark);
    assert.deepEqual(
      lines.map((l) => l.status),
      Array<string>(6).fill('200'),
    );
    // Each request ended on A; the ones that tried B first show both in $upstream_addr ("B, A": connection refused,
    // then the next server), until B's failures (max_fails) take it out of the rotation.
    for (const l of lines) assert.match(l.upstream, new RegExp(`(^|, )${upstreamOf(a!)}$`));
    const triedStopped = lines.filter((l) => l.upstream === `${upstreamOf(b!)}, ${upstreamOf(a!)}`);
    assert.ok(triedStopped.length >= 1, lines.map((l) => l.upstream).join(' | '));
    for (const l of triedStopped) assert.equal(l.upstreamStatus, '502, 200');
  });
});

describe('the deployment guide', () => {
  const guide = readFileSync(path.join(ROOT, 'docs/DEPLOY.md'), 'utf8');
  const fenced = (language: string, file: string): string => `\`\`\`${language}\n${readFileSync(path.join(ROOT, file), 'utf8').replace(/\n$/, '')}\n\`\`\``;

  test('docs/DEPLOY.md shows the nginx configuration this test runs and the systemd unit, verbatim', () => {
    assert.ok(guide.includes(fenced('nginx', 'deploy/nginx/swarmcore.conf')), 'docs/DEPLOY.md does not show deploy/nginx/swarmcore.conf as it is');
    assert.ok(guide.includes(fenced('ini', 'deploy/systemd/swarmcore.service')), 'docs/DEPLOY.md does not show deploy/systemd/swarmcore.service as it is');
  });

  test('the per-port template unit is the single unit with the port taken from the instance name', () => {
    const settingLines = (file: string): string[] =>
      readFileSync(path.join(ROOT, file), 'utf8')
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'));
    const single = settingLines('deploy/systemd/swarmcore.service');
    const template = settingLines('deploy/systemd/swarmcore@.service');
    const expected = single.map((l) =>
      l === 'Environment=SWARMCORE_PORT=7801' ? 'Environment=SWARMCORE_PORT=%i' : l.startsWith('Description=') ? `${l}, on port %i` : l,
    );
    assert.deepEqual(template, expected);
  });

  test('every test the guide quotes is a test of this file', () => {
    const source = readFileSync(path.join(ROOT, 'test/proxy.test.ts'), 'utf8');
    const titles = new Set([...source.matchAll(/\btest\((['"])(.+?)\1, /g)].map((m) => m[2]!.replace(/\\'/g, "'")));
    const prose = guide.replace(/```[\s\S]*?```/g, '');
    const quoted = [...prose.matchAll(/"([^"`]{40,})"/g)].map((m) => m[1]!.replace(/\s*\n\s*/g, ' '));
    assert.ok(quoted.length >= 10, `only ${quoted.length} quoted tests found`);
    for (const q of quoted) assert.ok(titles.has(q), `docs/DEPLOY.md quotes "${q}", which is not a test in test/proxy.test.ts`);
  });
});
