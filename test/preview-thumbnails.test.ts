// Preview thumbnails under abuse: decompression bombs, one user flooding the thumbnail workers, worker limits.
// Real server over HTTP; the worker pool itself is driven with real worker processes.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_POOL_OPTIONS, ThumbnailPool } from '../src/presets/thumbnail-pool.js';
import { postOnNewConnection } from './helpers/fresh-connection.js';
import { eventually, TestServer } from './helpers/server.js';

const JPEG_PREFIX = 'data:image/jpeg;base64,';
const IMPLAUSIBLE = 'The preview image is damaged: its header claims more pixels than the file can hold (a JPEG needs at least 1 byte per 1024 pixels), so it was not decoded.';

/** A photo-like JPEG (gradients plus noise, so it compresses like a photo rather than a flat colour). */
function photo(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 4);
  let seed = 7;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const i = (y * width + x) * 4;
      data[i] = ((x * 255) / width + (seed & 31)) & 255;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = (x ^ y) & 255;
      data[i + 3] = 255;
    }
  }
  return Buffer.from(jpeg.encode({ data, width, height }, 85).data);
}

/** A real 8x8 JPEG whose frame header is rewritten to claim 5000x5000: about 600 bytes that decode to 25 MP. */
function bomb(): Buffer {
  const bytes = Buffer.from(jpeg.encode({ data: Buffer.alloc(8 * 8 * 4, 200), width: 8, height: 8 }, 90).data);
  const sof = bytes.indexOf(Buffer.from([0xff, 0xc0]));
  bytes.writeUInt16BE(5000, sof + 5);
  bytes.writeUInt16BE(5000, sof + 7);
  return bytes;
}

const dataUrl = (bytes: Buffer): string => JPEG_PREFIX + bytes.toString('base64');

/** Log lines the server wrote for one user's thumbnail jobs with this message. */
function jobLog(server: TestServer, owner: string, msg: string): number {
  return server.output.split('\n').filter((line) => {
    try {
      const entry = JSON.parse(line) as { msg?: string; owner?: string };
      return entry.msg === msg && entry.owner === owner;
    } catch {
      return false;
    }
  }).length;
}

/** The server's child processes (its thumbnail workers), from /proc. */
function childPids(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((task) => readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
}

function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

/** Resolves with the order in which the given promises settle. */
function settleOrder(named: Record<string, Promise<unknown>>): Promise<string[]> {
  const order: string[] = [];
  return Promise.all(Object.entries(named).map(([name, p]) => p.then(() => order.push(name)))).then(() => order);
}

let server: TestServer;
let photo12mp: Buffer;
let photo3mp: Buffer;
before(async () => {
  server = await TestServer.start({ args: ['--log-level', 'debug'] });
  photo12mp = photo(4032, 3024);
  photo3mp = photo(2000, 1500);
});
after(() => server.close());

let userCount = 0;
// Every request on a new connection: these tests wait seconds for decodes, long enough for a kept-alive one to go stale.
const call = (route: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => postOnNewConnection(`${server.url}/API/${route}`, body, headers);

async function freshUser(): Promise<{ id: string; sid: string }> {
  const id = `thumbuser${++userCount}`;
  const sid = (await call('GetNewSession', {}, { 'X-SWARM-USER_ID': id })).body.session_id;
  assert.equal(typeof sid, 'string');
  return { id, sid: sid as string };
}

const add = (sid: string, title: string, preview_image: string) => call('AddNewPreset', { session_id: sid, title, description: '', param_map: {}, preview_image });

describe('preview thumbnails', () => {
  test('a normal 12-megapixel photo still gets its thumbnail', async () => {
    const u = await freshUser();
    assert.deepEqual((await add(u.sid, 'phone photo', dataUrl(photo12mp))).body, { success: true });
    const stored = String(((await call('ExportUserPresets', { session_id: u.sid })).body.presets as Array<Record<string, unknown>>)[0]!.preview_image);
    const decoded = jpeg.decode(Buffer.from(stored.slice(JPEG_PREFIX.length), 'base64'), { useTArray: true });
    assert.deepEqual([decoded.width, decoded.height], [341, 256]);
  });

  test('a JPEG whose header claims more pixels than its bytes can hold is refused before it is decoded', async () => {
    const u = await freshUser();
    // The user's own photo is being made; their jobs run one at a time, so a bomb that needed decoding would wait behind it.
    const slow = add(u.sid, 'photo', dataUrl(photo3mp));
    assert.ok(await eventually(async () => jobLog(server, u.id, 'preview thumbnail started') === 1, 60_000), 'the photo never started');
    const refused = add(u.sid, 'bomb', dataUrl(bomb()));
    const order = await settleOrder({ slow, refused });
    assert.deepEqual(order, ['refused', 'slow']);
    assert.deepEqual((await refused).body, { preset_fail: IMPLAUSIBLE });
    assert.deepEqual((await slow).body, { success: true });
    assert.equal(jobLog(server, u.id, 'preview thumbnail queued'), 1, 'only the photo reached the workers');
  });

  test("one user's flood of previews is capped at their queue and does not hold back another user's preview", async () => {
    const a = await freshUser();
    const b = await freshUser();
    const flood = Array.from({ length: DEFAULT_POOL_OPTIONS.perUserJobs }, (_, i) => add(a.sid, `big ${i}`, dataUrl(photo3mp)));
    assert.ok(await eventually(async () => jobLog(server, a.id, 'preview thumbnail queued') === flood.length, 60_000), "A's previews never all queued");
    const extra = add(a.sid, 'one more', dataUrl(photo(64, 64)));
    const normal = add(b.sid, 'normal', dataUrl(photo(600, 400)));
    assert.deepEqual((await extra).body, { preset_fail: `You already have ${DEFAULT_POOL_OPTIONS.perUserJobs} preview images being made; try again once they are done.` });
    // B takes the next turn: it is answered after at most one of A's previews (the one that may be running when
    // B's arrives), not after A's whole queue. Which of A's concurrent calls reached the pool first is the
    // network's choice, so the check is on B's place, not on which of A's it follows.
    const order = await settleOrder({ ...Object.fromEntries(flood.map((p, i) => [`a${i}`, p])), b: normal });
    assert.ok(order.indexOf('b') <= 1, `order was ${order.join(', ')}`);
    for (const res of [...(await Promise.all(flood)), await normal]) assert.deepEqual(res.body, { success: true });
  });

  test('after large previews and bombs the thumbnail workers are gone and the server holds no decode memory', async () => {
    const u = await freshUser();
    const bombs = await Promise.all(Array.from({ length: 8 }, (_, i) => add(u.sid, `bomb ${i}`, dataUrl(bomb()))));
    for (const res of bombs) assert.deepEqual(res.body, { preset_fail: IMPLAUSIBLE });
    assert.deepEqual((await add(u.sid, 'large', dataUrl(photo12mp))).body, { success: true });
    // A worker that made a large thumbnail is ended at once; its (up to ~900 MB of) memory goes with it.
    assert.ok(await eventually(async () => childPids(server.proc.pid!).length === 0, 90_000), 'a worker process outlived its large job');
    const rss = rssMb(server.proc.pid!);
    assert.ok(rss < 400, `server RSS ${Math.round(rss)} MB`);
  });
});

describe('thumbnail worker pool', () => {
  const small = photo(64, 48);

  test('a job over its time bound ends its worker and is refused as over-limits', async () => {
    const pool = new ThumbnailPool({ ...DEFAULT_POOL_OPTIONS, jobTimeoutMs: 1 });
    try {
      assert.deepEqual(await pool.make({ owner: 'u', source: photo12mp, metadata: null, pixels: 4032 * 3024 }), { ok: false, reason: 'over-limits' });
      assert.deepEqual(pool.workerPids(), []);
    } finally {
      pool.close();
    }
  });

  test('a job that exhausts its worker heap is refused as over-limits and the next job gets a new worker', async () => {
    const pool = new ThumbnailPool({ ...DEFAULT_POOL_OPTIONS, heapMb: 48 });
    try {
      assert.deepEqual(await pool.make({ owner: 'u', source: photo12mp, metadata: null, pixels: 4032 * 3024 }), { ok: false, reason: 'over-limits' });
      const next = await pool.make({ owner: 'u', source: small, metadata: 'text', pixels: 64 * 48 });
      assert.equal(next.ok, true);
      assert.equal(pool.workerPids().length, 1, 'a small job keeps its worker for the next one');
    } finally {
      pool.close();
    }
  });

  test('users take turns: with one worker, a second user is served before the first user’s queue', async () => {
    const pool = new ThumbnailPool({ ...DEFAULT_POOL_OPTIONS, workers: 1 });
    try {
      const job = (owner: string) => pool.make({ owner, source: small, metadata: null, pixels: 64 * 48 });
      const order = await settleOrder({ a1: job('a'), a2: job('a'), a3: job('a'), b1: job('b'), c1: job('c'), b2: job('b') });
      assert.deepEqual(order, ['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
    } finally {
      pool.close();
    }
  });
});
