// InterruptAll across instances: two servers on one database (a shared SQLite file, or PostgreSQL). The
// interrupt travels as a `sessions.interrupt` event, so work running on the other instance stops too, and
// another user's work there runs on.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, TestServer, eventually, needsService, type ApiResponse } from './helpers/server.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';

const EXAMPLE = path.join(ROOT, 'examples/procedural-images/index.ts');
const LONG = { images: 1, prompt: 'two instances', seed: 11, width: 256, height: 256, steps: 900 };

const liveGens = (r: ApiResponse): number => (r.body.status as { live_gens: number }).live_gens;

/** Waits until the session has a generation rendering. */
async function rendering(on: TestServer, sessionId: string, what: string): Promise<void> {
  assert.ok(await eventually(async () => liveGens(await on.call('GetCurrentStatus', sessionId)) === 1, 15_000), `${what} never started`);
}

function scenarios(name: string, start: () => Promise<[TestServer, TestServer] | null>): void {
  describe(name, () => {
    let a: TestServer | undefined;
    let b: TestServer | undefined;
    let skipped = false;
    before(async () => {
      const pair = await start();
      if (!pair) skipped = true;
      else [a, b] = pair;
    });
    after(async () => {
      // b first: with SQLite it shares a's data dir, which a removes.
      await b?.close();
      await a?.close();
    });

    /** Starts a generation and waits until it renders; `done` resolves at the socket's close with its images. */
    async function running(on: TestServer, sessionId: string, finished: string[]): Promise<{ done: Promise<unknown[]> }> {
      const done = on.socket('GenerateText2ImageWS', { session_id: sessionId, ...LONG }).then((r) => {
        assert.equal(r.code, 1000);
        finished.push(sessionId);
        return r.messages.filter((m) => 'image' in m);
      });
      await rendering(on, sessionId, `a generation on ${on.url}`);
      return { done };
    }

    test("InterruptAll with other_sessions on one instance stops the user's work on the other with no image, before another user's work there finishes", async (t) => {
      if (skipped) return void needsService(t, false, 'PostgreSQL is not reachable');
      const finished: string[] = [];
      const alice = { 'X-SWARM-USER_ID': 'alice' };
      const here = await a!.session(alice);
      const there = await b!.session(alice);
      const bob = await b!.session({ 'X-SWARM-USER_ID': 'bob' });
      const { done: aliceDone } = await running(b!, there, finished);
      const bobDone = b!.call('GenerateText2Image', bob, LONG).then((r) => {
        finished.push(bob);
        return r;
      });
      await rendering(b!, bob, "bob's generation");
      assert.equal((await a!.call('InterruptAll', here, { other_sessions: true })).text, '{"success":true}');
      assert.deepEqual(await aliceDone, []);
      assert.equal(liveGens(await b!.call('GetCurrentStatus', bob)), 1, "bob's generation still runs");
      assert.equal(((await bobDone).body.images as string[]).length, 1);
      assert.deepEqual(finished, [there, bob]);
    });

    test('InterruptAll for a session whose work runs on the other instance stops that work with no image and releases its claim', async (t) => {
      if (skipped) return void needsService(t, false, 'PostgreSQL is not reachable');
      const s = await b!.session({ 'X-SWARM-USER_ID': 'carl' });
      const { done } = await running(b!, s, []);
      assert.equal((await a!.call('InterruptAll', s)).text, '{"success":true}');
      assert.deepEqual(await done, []);
      const zero = { waiting_gens: 0, loading_models: 0, waiting_backends: 0, live_gens: 0 };
      assert.deepEqual((await b!.call('GetCurrentStatus', s)).body.status, zero);
    });
  });
}

const ARGS = ['--extension', EXAMPLE];
const SETTINGS = { 'ProceduralImages.MaxConcurrent': 4 };

scenarios('two instances on one SQLite file', async () => {
  const a = await TestServer.start({ args: ARGS, settings: SETTINGS });
  const b = await TestServer.start({ args: ARGS, settings: SETTINGS, dataDir: a.dataDir });
  return [a, b];
});

let dropDatabase: (() => Promise<void>) | undefined;
scenarios('two instances on one PostgreSQL database', async () => {
  if (!(await postgresAvailable())) return null;
  const db = await createTestDatabase();
  dropDatabase = db.drop;
  return Promise.all([TestServer.start({ args: ARGS, settings: SETTINGS, databaseUrl: db.url }), TestServer.start({ args: ARGS, settings: SETTINGS, databaseUrl: db.url })]);
});
after(async () => dropDatabase?.());
