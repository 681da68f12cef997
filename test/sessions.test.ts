// Session memory stays bounded: idle sessions leave memory but not the store (docs/COMPATIBILITY.md#expiry,
// docs/COMPATIBILITY.md#d9).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Core } from '../src/core.js';

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
