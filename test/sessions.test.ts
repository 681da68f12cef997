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
