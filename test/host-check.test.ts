// The DNS-rebinding guard (docs/SECURITY.md, threat model; docs/COMPATIBILITY.md#d34): while the server trusts
// callers by where they connect from, a request must name it by IP address, localhost, ExternalURL's host or a
// name in Network.AllowedHosts. Requests that prove who they are pass under any name.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { TestServer } from './helpers/server.js';

interface Answer {
  status: number;
  text: string;
}

/** A request with the given Host header (fetch does not let a caller choose it). */
function withHost(server: TestServer, host: string, method: string, path: string, body?: string): Promise<Answer> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, method, path, headers: { Host: host, Connection: 'close', ...(body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The status of a WebSocket upgrade sent with the given Host header. */
function upgradeWithHost(server: TestServer, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/API/InstallConfirmWS`, { headers: { Host: host } });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    ws.on('error', reject);
  });
}

const REFUSAL = (name: string): string =>
  `This server does not answer to '${name}' while it trusts callers by their address (accounts off or the localhost bypass). Use its IP address or localhost, or add the name to Network.AllowedHosts.`;

describe('with accounts off (callers trusted by address)', () => {
  let server: TestServer;
  let allowing: TestServer;
  before(async () => {
    server = await TestServer.start({ settings: { 'Network.ExternalURL': 'https://swarm.example.org/' } });
    allowing = await TestServer.start({ settings: { 'Network.AllowedHosts': 'gpu-box,Studio.LAN' } });
  });
  after(async () => {
    await server.close();
    await allowing.close();
  });

  test('a page, an API call and a WebSocket under a foreign host name are refused in words', async () => {
    const port = new URL(server.url).port;
    const page = await withHost(server, `rebind.attacker.example:${port}`, 'GET', '/Text2Image');
    assert.deepEqual(page, { status: 403, text: REFUSAL('rebind.attacker.example') });
    const api = await withHost(server, `rebind.attacker.example:${port}`, 'POST', '/API/GetNewSession', '{}');
    assert.equal(api.status, 403);
    assert.deepEqual(JSON.parse(api.text), { error: REFUSAL('rebind.attacker.example'), error_id: 'host_not_allowed' });
    assert.equal(await upgradeWithHost(server, `rebind.attacker.example:${port}`), 403);
  });

  test('IP addresses, localhost, no Host header and the ExternalURL host are answered', async () => {
    const port = new URL(server.url).port;
    for (const host of [`127.0.0.1:${port}`, `[::1]:${port}`, `localhost:${port}`, `app.localhost:${port}`, 'swarm.example.org', 'SWARM.example.org:443']) {
      const api = await withHost(server, host, 'POST', '/API/GetNewSession', '{}');
      assert.equal(api.status, 200, host);
      assert.equal(typeof (JSON.parse(api.text) as { session_id?: unknown }).session_id, 'string', host);
    }
    const bare = await new Promise<number>((resolve, reject) => {
      const { hostname } = new URL(server.url);
      // HTTP/1.0 without a Host header: not a browser.
      const socket = new net.Socket();
      socket.connect(Number(port), hostname, () => socket.end('GET /Text2Image HTTP/1.0\r\n\r\n'));
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('end', () => resolve(Number(/^HTTP\/1\.\d (\d+)/.exec(text)?.[1])));
      socket.on('error', reject);
    });
    assert.notEqual(bare, 403);
  });

  test('names listed in Network.AllowedHosts are answered, in any letter case', async () => {
    const port = new URL(allowing.url).port;
    for (const host of [`gpu-box:${port}`, `studio.lan:${port}`]) assert.equal((await withHost(allowing, host, 'POST', '/API/GetNewSession', '{}')).status, 200, host);
    assert.equal((await withHost(allowing, `other-box:${port}`, 'POST', '/API/GetNewSession', '{}')).status, 403);
  });
});

describe('with accounts on and no bypass (callers prove who they are)', () => {
  let server: TestServer;
  before(async () => {
    server = await TestServer.start({ settings: { 'UserAuthorization.AuthorizationRequired': true, 'UserAuthorization.AllowLocalhostBypass': false } });
  });
  after(() => server.close());

  test('any host name is answered: without a login the answer is the usual one, not a host refusal', async () => {
    const port = new URL(server.url).port;
    const api = await withHost(server, `swarm.behind-a-proxy.example:${port}`, 'POST', '/API/GetNewSession', '{}');
    assert.notEqual((JSON.parse(api.text) as { error_id?: string }).error_id, 'host_not_allowed');
    const page = await withHost(server, `swarm.behind-a-proxy.example:${port}`, 'GET', '/Login');
    assert.equal(page.status, 200);
  });
});
