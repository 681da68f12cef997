// Session memory stays bounded: idle sessions leave memory but not the store (docs/COMPATIBILITY.md#expiry,
// docs/COMPATIBILITY.md#d9). Session ids and the keys they are stored under (docs/COMPATIBILITY.md#d53).
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { EVICTION_ROOM, MAX_LIVE_SESSIONS } from '../src/accounts/sessions.js';
import { Core } from '../src/core.js';
import { SQLITE_FILE_NAME } from '../src/store/sqlite/index.js';

test('an idle session without work leaves memory and keeps working; one holding work stays', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-evict-'));
  const core = await Core.open({ dataDir: dir });
  try {
    const idle = await core.services.sessions.create('local', 'test', null);
    const busy = await core.services.sessions.create('local', 'test', null);
    const recent = await core.services.sessions.create('local', 'test', null);
    const now = Math.floor(Date.now() / 1000);
    // Used after its last persisted refresh (which is throttled), then idle past the limit.
    idle.lastUsed = now - 600;
    idle.persistedLastActive = now - 4000;
    busy.lastUsed = now - 600;
    recent.lastUsed = now;
    const claim = core.services.generation.workOf(busy).claim({ gens: 1 });
    assert.equal(await core.services.sessions.evictIdle(300), 1);
    const live = [...core.services.sessions.liveSessions()].map((s) => s.id);
    assert.deepEqual(live.sort(), [busy.id, recent.id].sort());
    const again = await core.services.sessions.get(idle.id);
    assert.equal(again?.id, idle.id);
    assert.notEqual(again, idle, 'reloaded from the store, not the forgotten object');
    claim.release();
  } finally {
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('session ids start with their creation time, are stored under keys in creation order, and 40-digit ids from before still work', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-ids-'));
  const core = await Core.open({ dataDir: dir });
  try {
    await core.services.users.ensure('local', ['owner']);
    const made: { id: string; before: number; after: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const before = Date.now();
      const session = await core.services.sessions.create('local', 'test', null);
      made.push({ id: session.id, before, after: Date.now() });
      // The next one in a later millisecond, so creation order is the only order the keys can have.
      while (Date.now() <= made[i]!.after) await new Promise((resolve) => setImmediate(resolve));
    }
    for (const { id, before, after } of made) {
      assert.match(id, /^[0-9a-f]{52}$/);
      const ms = parseInt(id.slice(0, 12), 16);
      assert.ok(ms >= before && ms <= after, `${ms} within [${before}, ${after}]`);
    }
    const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
    // An id of the old form (40 random digits), stored by an earlier release under its plain SHA-256.
    const oldId = 'c0ffee'.repeat(6) + 'beef';
    const now = Math.floor(Date.now() / 1000);
    const db = new Database(path.join(dir, SQLITE_FILE_NAME));
    try {
      db.prepare("INSERT INTO sessions (id, user_id, origin_address, created_at, last_active) VALUES (?, 'local', 'old', ?, ?)").run(sha256(oldId), now, now);
      const stored = (db.prepare("SELECT id FROM sessions WHERE origin_address = 'test' ORDER BY id").all() as { id: string }[]).map((r) => r.id);
      assert.deepEqual(
        stored,
        made.map(({ id }) => id.slice(0, 12) + sha256(id)),
      );
    } finally {
      db.close();
    }
    assert.equal((await core.services.sessions.get(oldId))?.originAddress, 'old');
  } finally {
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('forty sessions created at once are all stored, and one for a missing user fails only its own caller', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-batch-'));
  const core = await Core.open({ dataDir: dir });
  try {
    await core.services.users.ensure('local', ['owner']);
    // Forty at once, one of them for a user that does not exist (the store refuses its row).
    const calls = Array.from({ length: 40 }, (_, i) => core.services.sessions.create(i === 17 ? 'nobody-here' : 'local', 'test', null));
    const settled = await Promise.allSettled(calls);
    assert.deepEqual(
      settled.map((s) => s.status),
      settled.map((_, i) => (i === 17 ? 'rejected' : 'fulfilled')),
    );
    // Every acknowledged session is in the store, found again by a fresh server on the same data dir.
    const ids = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.id] : []));
    await core.close();
    const again = await Core.open({ dataDir: dir });
    try {
      const found = await Promise.all(ids.map((id) => again.services.sessions.get(id)));
      assert.deepEqual(found.map((s) => s?.id), ids);
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('past MAX_LIVE_SESSIONS the oldest sessions leave memory, not the store, and one holding work stays', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-cap-'));
  const core = await Core.open({ dataDir: dir });
  try {
    const sessions = core.services.sessions;
    const first = await sessions.create('local', 'test', null);
    const working = await sessions.create('local', 'test', null);
    const claim = core.services.generation.workOf(working).claim({ gens: 1 });
    // What a client calling GetNewSession in a loop does, in batches as the server would receive them.
    for (let made = 2; made < MAX_LIVE_SESSIONS + 100; made += 1000) {
      await Promise.all(Array.from({ length: Math.min(1000, MAX_LIVE_SESSIONS + 100 - made) }, () => sessions.create('local', 'test', null)));
    }
    const live = new Set([...sessions.liveSessions()].map((s) => s.id));
    // Past the cap, EVICTION_ROOM sessions leave at once: the 100 over it made room for 900 more.
    assert.equal(live.size, MAX_LIVE_SESSIONS - EVICTION_ROOM + 99);
    assert.equal(live.has(first.id), false, 'the oldest left memory');
    assert.equal(live.has(working.id), true, 'a session with running work stays');
    const again = await sessions.get(first.id);
    assert.equal(again?.id, first.id, 'and is found in the store at its next use');
    claim.release();
  } finally {
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
