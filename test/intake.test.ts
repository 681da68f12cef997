// The front door under hostile and broken clients: large anonymous bodies, slow and numerous connections,
// half-closed bodies, encoded paths and cross-origin WebSockets. All against the real server over real sockets.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { eventually, TestServer } from './helpers/server.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** One request over its own socket, written by the test piece by piece; `answer` settles when the server answers. */
class RawRequest {
  readonly socket: net.Socket;
  readonly answer: Promise<RawAnswer>;
  /** Set once the server has answered. */
  answered = false;
  private received = Buffer.alloc(0);

  constructor(url: string, head: string, localAddress?: string) {
    const { hostname, port } = new URL(url);
    this.socket = net.connect({ host: hostname, port: Number(port), localAddress });
    this.socket.on('error', () => undefined); // a refused body may end in a reset once its answer is read
    this.answer = new Promise((resolve, reject) => {
      this.socket.on('data', (chunk: Buffer) => {
        this.received = Buffer.concat([this.received, chunk]);
        const parsed = parseAnswer(this.received);
        if (parsed) {
          this.answered = true;
          resolve(parsed);
        }
      });
      this.socket.on('close', () => reject(new Error(`connection closed without a complete answer: ${JSON.stringify(this.received.toString('latin1').slice(0, 300))}`)));
    });
    this.answer.catch(() => undefined);
    this.socket.write(head);
  }

  /** Writes, waiting for the socket to drain; false once the connection is gone or answered. */
  async write(chunk: Buffer | string): Promise<boolean> {
    if (this.socket.destroyed || !this.socket.writable) return false;
    if (!this.socket.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
    }
    return !this.socket.destroyed;
  }

  close(): void {
    this.socket.destroy();
  }
}

function parseAnswer(buf: Buffer): RawAnswer | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buf.length < end + 4 + length) return null;
  const text = buf.subarray(end + 4, end + 4 + length).toString('utf8');
  return { status: Number(lines[0]!.split(' ')[1]), headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function apiHead(route: string, length: number, extra: Record<string, string> = {}): string {
  const headers = { Host: 'localhost', 'Content-Type': 'application/json', 'Content-Length': String(length), ...extra };
  return `POST /API/${route} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** The server process's memory in MiB, read from outside: resident now and its high-water mark. */
function serverMemory(server: TestServer): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${server.proc.pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** A body of `size` bytes whose top-level object has `fill` (many small objects) first and `tail` last. */
async function streamBody(req: RawRequest, size: number, tail: string): Promise<number> {
  const headText = '{"items":[';
  const end = `{}],${tail}}`;
  const unit = Buffer.from('{},'.repeat(350_000)); // about 1 MiB of JSON members
  let sent = 0;
  if (!(await req.write(headText))) return sent;
  sent += headText.length;
  while (sent + unit.length + end.length <= size && !req.answered) {
    if (!(await req.write(unit))) return sent;
    sent += unit.length;
  }
  const rest = size - sent - end.length;
  if (!req.answered && rest >= 0) {
    await req.write(`${'{},'.repeat(Math.floor(rest / 3))}${' '.repeat(rest % 3)}${end}`);
    sent = size;
  }
  return sent;
}

/** A body of exactly `size` bytes: one long text member first, `tail` last. */
function bodyOfSize(size: number, tail: string): string {
  const start = '{"text":"';
  const end = `",${tail}}`;
  return `${start}${'t'.repeat(size - start.length - end.length)}${end}`;
}

/** The files in the server process's spill folder. */
function spillFiles(server: TestServer): string[] {
  return readdirSync(path.join(server.dataDir, 'request-spill', String(server.proc.pid)));
}

describe('bodies before the session is known', () => {
  let server: TestServer;
  before(async () => {
    // A small heap, as on a small VPS: any design that held or parsed an anonymous 200 MB body would die here.
    server = await TestServer.start({ env: { NODE_OPTIONS: '--max-old-space-size=160' } });
  });
  after(() => server.close());

  test("an anonymous 200 MB body is refused with invalid_session_id and the server's heap stays small", async () => {
    const size = 200_000_000; // just under Network.MaxNetworkRequestMegabytes (200 MiB)
    await server.api('GetCurrentStatus', {}); // warm up before the baseline
    const baseline = serverMemory(server);
    const req = new RawRequest(server.url, apiHead('AddNewPreset', size));
    const sent = await streamBody(req, size, `"session_id":"${'f'.repeat(40)}"`);
    const answer = await req.answer;
    req.close();
    assert.equal(sent, size, 'the whole body went out: the session id is its last key');
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error_id, 'invalid_session_id');
    const after = serverMemory(server);
    // Holding the body would add 200 MiB, parsing it several GiB; the margin is wide on purpose.
    assert.ok(after.hwm < baseline.hwm + 100, `server memory high-water mark grew from ${baseline.hwm} to ${after.hwm} MiB`);
    assert.equal((await server.api('GetCurrentStatus', {}, { 'X-Session-ID': await server.session() })).status, 200);
    assert.deepEqual(spillFiles(server), [], 'the spill file is removed');
  });

  test('a large body whose first key is an unknown session_id is refused before the client has sent it', async () => {
    const size = 50 * 1024 * 1024;
    const req = new RawRequest(server.url, apiHead('AddNewPreset', size));
    await req.write(`{"session_id":"${'e'.repeat(40)}","items":[`);
    await req.write('{},'.repeat(30_000));
    const answer = await req.answer;
    req.close();
    assert.equal(answer.status, 401);
    assert.deepEqual(answer.body, { error: 'Invalid session ID. You may need to refresh the page.', error_id: 'invalid_session_id' });
  });

  test('a large preset body with session_id as its last key is accepted', async () => {
    const sid = await server.session({ 'X-SWARM-USER_ID': 'lastkey' });
    const prompt = 'a long prompt '.repeat(150_000); // 2 MiB, well past the 64 KiB kept in memory before the session is known
    // Key order as SwarmUI's browser client sends it: session_id appended last.
    const body = JSON.stringify({ title: 'big', description: 'd', param_map: { prompt }, preview_image: '', session_id: sid });
    const res = await server.api('AddNewPreset', body);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { success: true });
    const presets = (await server.call('ExportUserPresets', sid)).body.presets as Array<{ title: string; param_map: { prompt: string } }>;
    assert.deepEqual(presets.map((p) => [p.title, p.param_map.prompt.length]), [['big', prompt.length]]);
  });

  test('a body arriving as a large piece, a spilled piece and a small last piece keeps its byte order', async () => {
    // The small last piece would still fit beside the first in the 64 KiB kept in memory; it must follow the
    // spilled piece instead of jumping ahead of it. The pauses only let the pieces arrive as separate reads.
    const sid = await server.session({ 'X-SWARM-USER_ID': 'order' });
    const prompt = Array.from({ length: 14_000 }, (_, i) => `w${i}`).join(' ');
    const body = Buffer.from(JSON.stringify({ title: 'order', description: 'd', param_map: { prompt }, preview_image: '', session_id: sid }));
    const last = body.length - 300;
    assert.ok(last > 65_000 + 16_384, `body of ${body.length} bytes`);
    const req = new RawRequest(server.url, apiHead('AddNewPreset', body.length));
    const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100));
    await req.write(body.subarray(0, 65_000));
    await pause();
    await req.write(body.subarray(65_000, last));
    await pause();
    await req.write(body.subarray(last));
    const answer = await req.answer;
    req.close();
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const presets = (await server.call('ExportUserPresets', sid)).body.presets as Array<{ title: string; param_map: { prompt: string } }>;
    assert.deepEqual(presets.map((p) => [p.title, p.param_map.prompt === prompt]), [['order', true]]);
  });

  test('a body admitted by a valid X-Session-ID runs as the session in its own session_id, as the envelope decides', async () => {
    const headerSid = await server.session({ 'X-SWARM-USER_ID': 'headeruser' });
    const bodySid = await server.session({ 'X-SWARM-USER_ID': 'bodyuser' });
    const body = JSON.stringify({ title: 'whose', description: '', param_map: { prompt: 'x'.repeat(1024 * 1024) }, session_id: bodySid });
    assert.deepEqual((await server.api('AddNewPreset', body, { 'X-Session-ID': headerSid })).body, { success: true });
    const titles = async (sid: string): Promise<string[]> => ((await server.call('ExportUserPresets', sid)).body.presets as Array<{ title: string }>).map((p) => p.title);
    assert.deepEqual(await titles(bodySid), ['whose']);
    assert.deepEqual(await titles(headerSid), []);
    // A large body whose session_id is unknown is refused even when the header's session is valid.
    const bad = JSON.stringify({ title: 'nope', description: '', param_map: { prompt: 'x'.repeat(1024 * 1024) }, session_id: 'f'.repeat(40) });
    assert.equal((await server.api('AddNewPreset', bad, { 'X-Session-ID': headerSid })).status, 401);
  });

  test('X-Session-ID is checked before the body is read: a valid one keeps the body out of the spill folder, without it the body is spilled to a private file', async () => {
    const sid = await server.session();
    const size = 4 * 1024 * 1024;
    const withHeader = new RawRequest(server.url, apiHead('GetCurrentStatus', size, { 'X-Session-ID': sid }));
    const anonymous = new RawRequest(server.url, apiHead('GetCurrentStatus', size));
    const full = bodyOfSize(size, `"session_id":"${sid}"`);
    const half = full.slice(0, size / 2);
    await withHeader.write(half);
    assert.ok(await eventually(async () => spillFiles(server).length === 0, 1000), 'the header-admitted body is not spilled');
    await anonymous.write(half);
    assert.ok(await eventually(async () => spillFiles(server).length === 1, 10_000), 'the anonymous body is spilled while its session is unknown');
    const file = path.join(server.dataDir, 'request-spill', String(server.proc.pid), spillFiles(server)[0]!);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    await withHeader.write(full.slice(size / 2));
    await anonymous.write(full.slice(size / 2));
    for (const req of [withHeader, anonymous]) {
      const answer = await req.answer;
      req.close();
      assert.equal(answer.status, 200);
      assert.equal(typeof answer.body.status, 'object');
    }
    assert.deepEqual(spillFiles(server), []);
  });

  test('spill folders that a stopped server left behind are removed at start', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-spill-'));
    const leftover = path.join(dataDir, 'request-spill', '4194305'); // above Linux's pid_max: no such process
    mkdirSync(leftover, { recursive: true });
    writeFileSync(path.join(leftover, '1'), 'a body half received');
    const other = await TestServer.start({ dataDir });
    try {
      assert.equal(existsSync(leftover), false);
      assert.deepEqual(spillFiles(other), []);
    } finally {
      await other.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a large body without any session id is refused with missing session id once its object ends', async () => {
    const res = await server.api('GetCurrentStatus', bodyOfSize(200 * 1024, '"x":1'));
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'missing session id', error_id: 'basic_api' });
    const withBadHeader = await server.api('GetCurrentStatus', bodyOfSize(200 * 1024, '"x":1'), { 'X-Session-ID': 'nope' });
    assert.equal(withBadHeader.status, 401);
    assert.equal(withBadHeader.body.error_id, 'invalid_session_id');
  });

  test('the event loop keeps answering while a 100 MB body is parsed', async () => {
    const sid = await server.session();
    const size = 100 * 1024 * 1024;
    const big = new RawRequest(server.url, apiHead('GetCurrentStatus', size));
    // Many medium strings: what a preset export or a batch of images looks like (fewer than 100,000 values).
    const piece = `"${'p'.repeat(2000)}",`;
    const start = `{"session_id":"${sid}","pieces":[`;
    const end = '"end"]}';
    const count = Math.floor((size - start.length - end.length) / piece.length);
    const pad = size - start.length - end.length - count * piece.length;
    await big.write(start);
    const block = piece.repeat(1000);
    for (let i = 0; i < Math.floor(count / 1000); i++) await big.write(block);
    await big.write(piece.repeat(count % 1000) + ' '.repeat(pad));
    // The body is complete with its last byte: the status call goes out as the big one starts parsing.
    const order: string[] = [];
    await big.write(end);
    const bigDone = big.answer.then((a) => {
      order.push('big');
      return a;
    });
    const status = await server.api('GetCurrentStatus', {}, { 'X-Session-ID': sid });
    order.push('status');
    assert.equal(status.status, 200);
    const bigAnswer = await bigDone;
    big.close();
    assert.equal(bigAnswer.status, 200);
    assert.deepEqual(order, ['status', 'big']);
  });
  test('a body of more than 100,000 values is refused in words even with a valid session, and the server keeps serving', async () => {
    // 100,001 small numbers: about 700 KiB, so the sliced parser reads it; millions of such values would make
    // the collector pause the process for up to a second.
    const sid = await server.session();
    const res = await server.api('GetCurrentStatus', { items: Array.from({ length: 99_999 }, (_, i) => i) }, { 'X-Session-ID': sid });
    assert.equal(res.status, 400);
    assert.equal(res.body.error_id, 'internal_error');
    assert.match(String(res.body.error), /^The request body is not a valid JSON object: More than 100,000 values at byte \d+\.$/);
    const fits = await server.api('GetCurrentStatus', { items: Array.from({ length: 99_998 }, (_, i) => i) }, { 'X-Session-ID': sid });
    assert.equal(fits.status, 200);
    assert.equal(typeof fits.body.status, 'object');
  });
});

describe('budgets, half-closed and abandoned bodies', () => {
  let server: TestServer;
  before(async () => {
    // 1 MiB requests: the in-flight budget is then 2 MiB, small enough to reach in a test.
    server = await TestServer.start({ settings: { 'Network.MaxNetworkRequestMegabytes': 1 }, args: ['--log-level', 'debug'] });
  });
  after(() => server.close());

  test('valid large bodies beyond the in-flight budget are refused with server_busy, and answered again once it frees', async () => {
    const sid = await server.session();
    const size = 900 * 1024;
    const first = `"session_id":"${sid}",`;
    const full = bodyOfSize(size - first.length, '"x":1').replace('{"text"', `{${first}"text"`);
    assert.equal(full.length, size);
    const held = [new RawRequest(server.url, apiHead('GetCurrentStatus', size)), new RawRequest(server.url, apiHead('GetCurrentStatus', size))];
    for (const req of held) await req.write(full.slice(0, 100_000));
    // A barrier instead of a sleep: bytes the two sent earlier are read before a later call's answer goes out.
    for (let i = 0; i < 2; i++) assert.equal((await server.call('GetCurrentStatus', sid)).status, 200);
    const third = new RawRequest(server.url, apiHead('GetCurrentStatus', size));
    await third.write(full.slice(0, 100_000));
    const refused = await third.answer;
    third.close();
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.body, { error: 'The server is receiving too much at once; try again shortly.', error_id: 'server_busy' });
    // Small calls are outside that budget.
    assert.equal((await server.api('GetCurrentStatus', {}, { 'X-Session-ID': sid })).status, 200);
    for (const req of held) {
      await req.write(full.slice(100_000));
      assert.equal((await req.answer).status, 200);
      req.close();
    }
    assert.equal((await server.api('GetCurrentStatus', full)).status, 200);
  });

  test('a short body with a half-close is answered at once', async () => {
    const req = new RawRequest(server.url, apiHead('GetNewSession', 100));
    await req.write('{"a":');
    req.socket.end(); // half-close: no more bytes will come
    const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 20 s (the server would wait 300 s)')), 20_000).unref());
    const answer = await Promise.race([req.answer, deadline]);
    req.close();
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.body, { error: 'bad content length', error_id: 'basic_api' });
  });

  test('bodies abandoned mid-way are logged at debug without a stack, never as errors', async () => {
    const sid = await server.session();
    const before = server.output.length;
    for (let i = 0; i < 5; i++) {
      for (const size of [1000, 500_000]) {
        const req = new RawRequest(server.url, apiHead('GetCurrentStatus', size));
        await req.write(`{"session_id":"${sid}","x":"${'y'.repeat(200)}`);
        await new Promise((r) => setTimeout(r, 50));
        // Half of them reset the connection, half close it (which the server sees as a half-closed short body).
        if (i % 2 === 0) req.socket.resetAndDestroy();
        else req.close();
      }
    }
    const logged = (): string[] => server.output.slice(before).split('\n').filter((l) => /client left mid-request|request body refused/.test(l));
    assert.ok(await eventually(async () => logged().length === 10, 10_000), server.output.slice(before));
    for (const line of logged()) {
      assert.equal((JSON.parse(line) as { level: number }).level, 20, line);
      assert.equal(line.includes('stack'), false, line);
    }
    assert.ok(logged().some((l) => l.includes('client left mid-request')));
    assert.ok(logged().some((l) => l.includes('request body refused')));
    assert.equal(server.output.split('\n').some((l) => /"level":(40|50|60)/.test(l)), false, server.output);
  });

  test('a body that drips slower than the minimum rate is refused, and the server keeps serving', async () => {
    const sid = await server.session();
    const req = new RawRequest(server.url, apiHead('GetCurrentStatus', 100_000, { 'X-Session-ID': sid }));
    // A write into a connection the server has closed fails; the answer assertion below is what counts.
    const drip = setInterval(() => {
      req.write('{').catch(() => undefined);
    }, 500);
    try {
      const answer = await req.answer;
      assert.equal(answer.status, 400);
      assert.deepEqual(answer.body, { error: 'The request body arrived too slowly.', error_id: 'basic_api' });
    } finally {
      clearInterval(drip);
      req.close();
    }
    assert.equal((await server.api('GetCurrentStatus', {}, { 'X-Session-ID': sid })).status, 200);
  });
});

/** GET over a socket bound to `localAddress`, so the server sees another client address. */
function getFrom(url: string, localAddress: string, route = 'GetNewSession'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/API/${route}`, { method: 'POST', localAddress, headers: { 'Content-Type': 'application/json' }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

describe('connections, paths and origins', () => {
  let server: TestServer;
  before(async () => {
    server = await TestServer.start();
  });
  after(() => server.close());

  test('while one address holds its maximum of slow connections, another address is still served', async () => {
    const slow: net.Socket[] = [];
    try {
      for (let i = 0; i < 256; i++) {
        const socket = net.connect({ host: '127.0.0.1', port: Number(new URL(server.url).port), localAddress: '127.0.0.2' });
        socket.on('error', () => undefined);
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        socket.write('POST /API/GetNewSession HTTP/1.1\r\nHost: x\r\nX-Drip: '); // headers that never finish
        slow.push(socket);
      }
      const over = await getFrom(server.url, '127.0.0.2').catch((err: Error) => ({ status: 0, body: err.message }));
      assert.equal(over.status, 503);
      assert.deepEqual(JSON.parse(over.body), { error: 'Too many connections are open; try again shortly.', error_id: 'server_busy' });
      const other = await getFrom(server.url, '127.0.0.3');
      assert.equal(other.status, 200);
      assert.match(JSON.parse(other.body).session_id, /^[0-9a-f]{52}$/);
    } finally {
      for (const socket of slow) socket.destroy();
    }
    // Once they close, the address is served again.
    assert.ok(await eventually(async () => (await getFrom(server.url, '127.0.0.2').catch(() => ({ status: 0 }))).status === 200, 10_000));
  });

  test('page templates cannot be reached by encoded or dotted paths', async () => {
    const raw = readFileSync(path.join(import.meta.dirname, '../web/pages/main.html'), 'utf8');
    for (const p of ['/pages/main.html', '/%70ages/main.html', '//pages/main.html', '/css/../pages/main.html', '/pages%2fmain.html', '/pages%2Fmain.html', '/css/%2e%2e/pages/main.html', '/css%2f..%2fpages/main.html', '/./pages/main.html', '/PAGES/main.html', '/pages\\main.html']) {
      const res = await fetch(server.url + p, { redirect: 'manual' });
      const text = await res.text();
      assert.notEqual(res.status, 200, p);
      assert.equal(text.includes(raw.slice(0, 200)), false, p);
    }
    // Real files are still served under their other spellings.
    const css = await fetch(`${server.url}/css/../css/%73ite.css`);
    const direct = await fetch(`${server.url}/css/site.css`);
    assert.equal(css.status, direct.status);
  });

  test('a cross-origin WebSocket upgrade is refused unless CORS allows that origin', async () => {
    const open = (url: string, origin?: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${url.replace('http', 'ws')}/API/InstallConfirmWS`, origin === undefined ? {} : { origin });
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('unexpected-response', (_req, res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            if (res.statusCode === 403) assert.deepEqual(JSON.parse(text), { error: 'This origin may not open WebSocket connections to this server.', error_id: 'cross_origin' });
            resolve(res.statusCode!);
          });
        });
        ws.on('error', reject);
      });
    const own = new URL(server.url).origin;
    assert.equal(await open(server.url, 'http://evil.example'), 403);
    assert.equal(await open(server.url, 'null'), 403);
    assert.equal(await open(server.url, own), 101);
    assert.equal(await open(server.url), 101, 'no Origin: not a browser');
    const cors = await TestServer.start({ settings: { 'Network.AccessControlAllowOrigin': 'http://evil.example' } });
    const anyOrigin = await TestServer.start({ settings: { 'Network.AccessControlAllowOrigin': '*' } });
    try {
      assert.equal(await open(cors.url, 'http://evil.example'), 101);
      assert.equal(await open(cors.url, 'http://other.example'), 403);
      assert.equal(await open(anyOrigin.url, 'http://other.example'), 101);
    } finally {
      await cors.close();
      await anyOrigin.close();
    }
  });
});
