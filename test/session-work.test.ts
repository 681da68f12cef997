// Generation claims (docs/COMPATIBILITY.md#interrupts-and-generation-claims) in isolation: counters only move
// through claims, never go negative, and an interrupt cancels exactly the claims alive at that moment.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InterruptedError, SessionWork } from '../src/generation/session-work.js';

const ZERO = { waiting_gens: 0, loading_models: 0, waiting_backends: 0, live_gens: 0 };

describe('generation claims', () => {
  test('extend and complete move both the claim and the session counters', () => {
    const work = new SessionWork();
    const a = work.claim({ gens: 2, backendWaits: 1 });
    const b = work.claim({ gens: 1 });
    a.complete({ backendWaits: 1 }).extend({ liveGens: 1, modelLoads: 1 });
    assert.deepEqual(work.counts, { waiting_gens: 3, loading_models: 1, waiting_backends: 0, live_gens: 1 });
    assert.deepEqual(a.counts, { waiting_gens: 2, loading_models: 1, waiting_backends: 0, live_gens: 1 });
    b.release();
    a.release();
    assert.deepEqual(work.counts, ZERO);
  });

  test('completing more than a claim holds never takes a counter below zero or from another claim', () => {
    const work = new SessionWork();
    const other = work.claim({ gens: 1 });
    const claim = work.claim({ gens: 1, liveGens: 1 });
    claim.complete({ gens: 5, liveGens: 5, modelLoads: 3, backendWaits: 2 });
    assert.deepEqual(work.counts, { ...ZERO, waiting_gens: 1 });
    claim.release();
    claim.release();
    assert.deepEqual(work.counts, { ...ZERO, waiting_gens: 1 });
    other.release();
    assert.deepEqual(work.counts, ZERO);
  });

  test('a released claim ignores later extends, so late work cannot leak counts', () => {
    const work = new SessionWork();
    const claim = work.claim({ gens: 1 });
    claim.release();
    claim.extend({ gens: 4, liveGens: 1 });
    assert.deepEqual(work.counts, ZERO);
    assert.equal(work.liveClaims().length, 0);
  });

  test('negative or fractional counts are refused and leave the counters alone', () => {
    const work = new SessionWork();
    assert.throws(() => work.claim({ gens: -1 }), RangeError);
    assert.throws(() => work.claim({ gens: 1, liveGens: 0.5 }), RangeError);
    const claim = work.claim({ gens: 1 });
    assert.throws(() => claim.complete({ gens: -3 }), RangeError);
    assert.deepEqual(work.counts, { ...ZERO, waiting_gens: 1 });
    assert.equal(work.liveClaims().length, 1);
  });

  test('run releases the claim when the work throws', async () => {
    const work = new SessionWork();
    await assert.rejects(
      work.run({ gens: 2, liveGens: 1 }, async () => {
        assert.deepEqual(work.counts, { ...ZERO, waiting_gens: 2, live_gens: 1 });
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(work.counts, ZERO);
  });

  test('an interrupt cancels the claims alive at that moment and none made afterwards', () => {
    const work = new SessionWork();
    const before = work.claim({ gens: 1 });
    const oldSignal = work.signal;
    work.interrupt();
    const after = work.claim({ gens: 1 });
    assert.equal(before.cancelled, true);
    assert.ok(before.signal.reason instanceof InterruptedError);
    assert.equal(oldSignal.aborted, true);
    assert.equal(after.cancelled, false);
    assert.equal(work.signal.aborted, false);
    // The interrupt does not reset counters: they fall as the cancelled work releases its claims.
    assert.deepEqual(work.counts, { ...ZERO, waiting_gens: 2 });
    before.release();
    after.release();
  });

  test("cancelling one claim leaves the session's other claims running", () => {
    const work = new SessionWork();
    const a = work.claim();
    const b = work.claim();
    a.cancel();
    assert.equal(a.cancelled, true);
    assert.equal(b.cancelled, false);
    assert.throws(() => a.throwIfCancelled());
  });

  test('claim ids increase across sessions', () => {
    const x = new SessionWork().claim();
    const y = new SessionWork().claim();
    assert.ok(y.id > x.id && x.id >= 1);
  });

  test('a claim held with `using` is released when the block ends, also by an exception', () => {
    const work = new SessionWork();
    assert.throws(() => {
      using claim = work.claim({ gens: 1 });
      assert.equal(claim.counts.waiting_gens, 1);
      throw new Error('boom');
    }, /boom/);
    assert.deepEqual(work.counts, ZERO);
  });
});
