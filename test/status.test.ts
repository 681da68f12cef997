// Generation claims, GetCurrentStatus and InterruptAll (docs/COMPATIBILITY.md#interrupts-and-generation-claims,
// docs/COMPATIBILITY.md#status-and-interrupts), driven through the procedural-images example over real HTTP and
// WebSocket.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ROOT, TestServer, type ApiResponse } from './helpers/server.js';

const EXAMPLE = path.join(ROOT, 'examples/procedural-images/index.ts');
const FIXTURE = path.join(ROOT, 'test/fixtures/test-extension.ts');
const ZERO = { waiting_gens: 0, loading_models: 0, waiting_backends: 0, live_gens: 0 };
/** About a second of rendering when it runs alone (it shares one thread with the other generations). */
const LONG = { images: 1, prompt: 'a lighthouse at dusk', seed: 7, width: 256, height: 256, steps: 600 };

let server: TestServer;
before(async () => {
  server = await TestServer.start({ args: ['--extension', EXAMPLE, '--extension', FIXTURE], settings: { 'ProceduralImages.MaxConcurrent': 3 } });
  const s = await server.session();
  await until(() => server.call('GetCurrentStatus', s), (r) => (r.body.backend_status as { status: string }).status === 'running', 'the example backend to finish its warm-up');
});
after(() => server.close());

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function counts(sessionId: string): Promise<typeof ZERO> {
  const res = await server.call('GetCurrentStatus', sessionId);
  assert.equal(res.status, 200, res.text);
  return res.body.status as typeof ZERO;
}

const live = (sessionId: string, n = 1): Promise<typeof ZERO> => until(() => counts(sessionId), (c) => c.live_gens === n, `live_gens ${n} in ${sessionId}`);

/** An answer and when it arrived (compared only with other arrivals, for ordering). */
interface Finished<T> {
  result: T;
  at: number;
}

const timed = <T>(p: Promise<T>): Promise<Finished<T>> => p.then((result) => ({ result, at: performance.now() }));

/** Opens GenerateText2ImageWS and collects its messages until the server closes. */
function generateWs(sessionId: string, params: Record<string, unknown> = LONG): Promise<Finished<{ messages: Record<string, unknown>[]; code: number }>> {
  return timed(server.socket('GenerateText2ImageWS', { session_id: sessionId, ...params }));
}

function generateHttp(sessionId: string, params: Record<string, unknown> = LONG): Promise<Finished<ApiResponse>> {
  return timed(server.call('GenerateText2Image', sessionId, params));
}

const images = (messages: Record<string, unknown>[]): unknown[] => messages.filter((m) => 'image' in m).map((m) => m.image);

describe('GetCurrentStatus', () => {
  test('a new session reports zero counters, the running example backend and the sorted supported features', async () => {
    const res = await server.call('GetCurrentStatus', await server.session());
    assert.equal(res.status, 200);
    assert.equal(res.text, JSON.stringify({ status: ZERO, backend_status: { status: 'running', class: '', message: '', any_loading: false }, supported_features: ['fixture_server_feature', 'procedural_png'] }));
  });

  test('while four generations run on three render slots, the counters show each stage; they return to zero when all finish', async () => {
    const s = await server.session();
    const short = { ...LONG, steps: 300 };
    const runs = [1, 2, 3, 4].map((i) => generateHttp(s, { ...short, seed: i }));
    const during = await until(() => counts(s), (c) => c.waiting_gens === 4, 'four generations in the session');
    assert.deepEqual(during, { waiting_gens: 4, loading_models: 0, waiting_backends: 1, live_gens: 3 });
    for (const { result } of await Promise.all(runs)) {
      assert.equal(result.status, 200);
      assert.equal((result.body.images as string[]).length, 1);
      assert.match((result.body.images as string[])[0]!, /^data:image\/png;base64,iVBORw0KGgo/);
    }
    assert.deepEqual(await counts(s), ZERO);
  });

  test('counters are per session: another session of the same user sees zero while the first one works', async () => {
    const headers = { 'X-SWARM-USER_ID': 'dora' };
    const busy = await server.session(headers);
    const idle = await server.session(headers);
    const run = generateWs(busy);
    await live(busy);
    assert.deepEqual(await counts(idle), ZERO);
    await server.call('InterruptAll', busy);
    await run;
  });

  test('a claim holding every counter is reported exactly, and a handler that throws still releases it', async () => {
    const s = await server.session();
    const run = server.call('FixtureHoldClaim', s, { gens: 2, model_loads: 1, backend_waits: 1, live_gens: 1, ms: 400, fail: true });
    const during = await until(() => counts(s), (c) => c.waiting_gens === 2, 'the held claim');
    assert.deepEqual(during, { waiting_gens: 2, loading_models: 1, waiting_backends: 1, live_gens: 1 });
    const res = await run;
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'An internal error occurred.', error_id: 'internal_error' });
    assert.deepEqual(await counts(s), ZERO);
  });

  test('GenerateText2ImageWS streams the status, one gen_progress per step, the image, then the final status', async () => {
    const s = await server.session();
    const params = { images: 1, prompt: 'tiny', seed: 3, width: 32, height: 32, steps: 4 };
    const { result } = await generateWs(s, params);
    assert.equal(result.code, 1000);
    const [first, ...rest] = result.messages;
    assert.deepEqual(first, { status: ZERO, backend_status: { status: 'running', class: '', message: '', any_loading: false }, supported_features: ['fixture_server_feature', 'procedural_png'] });
    const progress = rest.slice(0, 4);
    assert.deepEqual(
      progress,
      [0.25, 0.5, 0.75, 1].map((p) => ({ gen_progress: { batch_index: '0', overall_percent: p, current_percent: p } })),
    );
    const image = rest[4]!;
    assert.deepEqual(Object.keys(image), ['image', 'batch_index', 'metadata']);
    assert.match(image.image as string, /^data:image\/png;base64,/);
    assert.equal(image.batch_index, '0');
    assert.deepEqual(JSON.parse(image.metadata as string), { sui_image_params: { prompt: 'tiny', seed: 3, width: 32, height: 32, steps: 4 } });
    assert.deepEqual(rest[5], { status: ZERO, backend_status: { status: 'running', class: '', message: '', any_loading: false }, supported_features: ['fixture_server_feature', 'procedural_png'] });
    assert.equal(rest.length, 6);
  });

  test('the same prompt and seed render the same PNG', async () => {
    const s = await server.session();
    const params = { images: 1, prompt: 'same', seed: 99, width: 48, height: 32, steps: 3 };
    const [a, b] = await Promise.all([server.call('GenerateText2Image', s, params), server.call('GenerateText2Image', s, params)]);
    assert.deepEqual(a.body, b.body);
    const png = Buffer.from((a.body.images as string[])[0]!.split(',')[1]!, 'base64');
    assert.equal(png.readUInt32BE(16), 48);
    assert.equal(png.readUInt32BE(20), 32);
  });

  test('closing the socket stops its generation and releases the claim', async () => {
    const s = await server.session();
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/API/GenerateText2ImageWS`);
    await new Promise((resolve) => ws.on('open', resolve));
    ws.send(JSON.stringify({ session_id: s, ...LONG }));
    await live(s);
    ws.terminate();
    await until(() => counts(s), (c) => c.waiting_gens === 0, 'the claim to be released');
    assert.deepEqual(await counts(s), ZERO);
  });
});

describe('InterruptAll', () => {
  test("stops the calling session's work with no image, before the same work of the user's other session and of another user finishes", async () => {
    const alice1 = await server.session({ 'X-SWARM-USER_ID': 'alice' });
    const alice2 = await server.session({ 'X-SWARM-USER_ID': 'alice' });
    const bob = await server.session({ 'X-SWARM-USER_ID': 'bob' });
    const runs = [generateWs(alice1), generateWs(alice2), generateHttp(bob)] as const;
    await Promise.all([live(alice1), live(alice2), live(bob)]);
    const res = await server.call('InterruptAll', alice1);
    assert.equal(res.status, 200);
    assert.equal(res.text, '{"success":true}');
    const stopped = await runs[0];
    assert.equal(stopped.result.code, 1000);
    assert.deepEqual(images(stopped.result.messages), []);
    assert.deepEqual(await counts(alice1), ZERO);
    assert.equal((await counts(alice2)).live_gens, 1, "alice's other session still works");
    assert.equal((await counts(bob)).live_gens, 1, "bob's generation still works");
    const [, other, bobs] = await Promise.all(runs);
    assert.equal(images(other.result.messages).length, 1);
    assert.equal((bobs.result.body.images as string[]).length, 1);
    assert.ok(stopped.at < other.at && stopped.at < bobs.at, 'the interrupted generation ended before the untouched ones');
  });

  test('with other_sessions stops every session of the user with no image, and never another user', async () => {
    const [a1, a2, a3] = await Promise.all([1, 2, 3].map(() => server.session({ 'X-SWARM-USER_ID': 'carol' })));
    const erin = await server.session({ 'X-SWARM-USER_ID': 'erin' });
    const runs = [generateHttp(a1!), generateWs(a2!), generateHttp(erin)] as const;
    await Promise.all([live(a1!), live(a2!), live(erin)]);
    const res = await server.call('InterruptAll', a3!, { other_sessions: true });
    assert.equal(res.text, '{"success":true}');
    const [first, second] = await Promise.all([runs[0], runs[1]]);
    assert.deepEqual(first.result.body, { images: [] });
    assert.deepEqual(images(second.result.messages), []);
    for (const s of [a1!, a2!, a3!]) assert.deepEqual(await counts(s), ZERO);
    assert.equal((await counts(erin)).live_gens, 1);
    const erins = await runs[2];
    assert.equal((erins.result.body.images as string[]).length, 1);
    assert.ok(Math.max(first.at, second.at) < erins.at, "carol's generations ended before erin's");
  });

  test('work started after the interrupt is not affected', async () => {
    const s = await server.session();
    assert.equal((await server.call('InterruptAll', s, { other_sessions: true })).text, '{"success":true}');
    const res = await server.call('GenerateText2Image', s, { images: 2, prompt: 'after', seed: 1, width: 32, height: 32, steps: 2 });
    assert.equal((res.body.images as string[]).length, 2);
  });

  test('a held claim ends as interrupted and every counter returns to zero', async () => {
    const s = await server.session();
    const run = server.call('FixtureHoldClaim', s, { gens: 3, model_loads: 2, backend_waits: 1, live_gens: 1 });
    await until(() => counts(s), (c) => c.waiting_gens === 3, 'the held claim');
    await server.call('InterruptAll', s);
    assert.deepEqual((await run).body, { outcome: 'interrupted' });
    assert.deepEqual(await counts(s), ZERO);
  });

  test('other_sessions is coerced as a Boolean parameter', async () => {
    const s = await server.session();
    assert.equal((await server.call('InterruptAll', s, { other_sessions: 'TRUE' })).text, '{"success":true}');
    const res = await server.call('InterruptAll', s, { other_sessions: 'yes' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { error: "Invalid value 'yes' for parameter 'other_sessions', must be type 'Boolean'" });
  });

  test('a guest may read the status but not interrupt', async () => {
    const s = await server.session({ 'X-SWARM-USER_ID': 'gus' });
    const cli = await server.cli(['user', 'set-role', 'gus', 'guest']);
    assert.equal(cli.code, 0, cli.stderr);
    const denied = await until(() => server.call('InterruptAll', s), (r) => r.status === 400, 'the role change to reach the server');
    assert.deepEqual(denied.body, { error: 'You lack permission for this route.', error_id: 'bad_permissions' });
    assert.equal((await server.call('GetCurrentStatus', s)).status, 200);
  });
});

describe('the example backend', () => {
  test('reports all_disabled and refuses work while an administrator has switched it off', async () => {
    const s = await server.session();
    const off = await server.cli(['settings', 'set', 'ProceduralImages.Enabled', 'false', '--extension', EXAMPLE]);
    assert.equal(off.stdout, 'ProceduralImages.Enabled = false\n', off.stderr);
    try {
      const body = await until(() => server.call('GetCurrentStatus', s), (r) => (r.body.backend_status as { status: string }).status !== 'running', 'the setting to reach the server');
      assert.equal(JSON.stringify(body.body), JSON.stringify({ status: ZERO, backend_status: { status: 'all_disabled', class: 'error', message: 'All backends are disabled. You must enable backends in the Backends section of the Server tab before you can continue.', any_loading: false }, supported_features: ['fixture_server_feature'] }));
      const refused = await server.call('GenerateText2Image', s, { ...LONG, steps: 1 });
      assert.equal(refused.status, 200);
      assert.deepEqual(refused.body, { error: 'The procedural image backend is disabled.' });
    } finally {
      const on = await server.cli(['settings', 'set', 'ProceduralImages.Enabled', 'true', '--extension', EXAMPLE]);
      assert.equal(on.code, 0, on.stderr);
    }
    await until(() => server.call('GetCurrentStatus', s), (r) => (r.body.backend_status as { status: string }).status === 'running', 'the backend to run again');
  });
});
