// Nothing that happens in the background can end the server: a failing event handler, a lost database
// connection or a store that refuses a read is logged, and the server keeps serving.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { TestServer, eventually, needsService } from './helpers/server.js';

let available = false;
let db: { url: string; drop: () => Promise<void> } | undefined;
let server: TestServer | undefined;

before(async () => {
  available = await postgresAvailable();
  if (!available) return;
  db = await createTestDatabase();
  server = await TestServer.start({ databaseUrl: db.url });
});

after(async () => {
  await server?.close();
  await db?.drop();
});

async function sql(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

test('a store failure during an event-triggered settings reload is logged and the server keeps serving', async (t) => {
  if (!needsService(t, available, 'PostgreSQL is not running at 127.0.0.1:5432')) return;
  const s = server!;
  const url = db!.url;
  assert.equal((await s.api('GetNewSession')).body.output_append_user, true);
  // The settings table goes away, then every connection of the server is cut: it reconnects its event
  // listener and, having possibly missed events, reloads every cache (a resync), so the settings reload fails.
  await sql(url, 'ALTER TABLE server_settings RENAME TO server_settings_away');
  const cut = await sql(url, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
  assert.ok(cut.rowCount! >= 1);
  assert.ok(
    await eventually(async () => /handling the cluster event 'resync' failed; the server keeps running/.test(s.output), 15_000),
    `no log line for the failed reload:\n${s.output}`,
  );
  assert.match(s.output, /server_settings/);
  assert.equal(s.proc.exitCode, null, s.output);
  const res = await s.api('GetNewSession');
  assert.equal(res.status, 200, res.text);
  assert.equal(typeof res.body.session_id, 'string');
  assert.equal((await s.call('GetCurrentStatus', res.body.session_id as string)).status, 200);

  // Once the store is back, the next change reaches the server as usual.
  await sql(url, 'ALTER TABLE server_settings_away RENAME TO server_settings');
  const set = await s.cli(['settings', 'set', 'Paths.AppendUserNameToOutputPath', 'false']);
  assert.equal(set.code, 0, set.stderr);
  assert.ok(await eventually(async () => (await s.api('GetNewSession')).body.output_append_user === false, 15_000), s.output);
  assert.equal(s.proc.exitCode, null);
});
