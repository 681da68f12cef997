// GetCurrentStatus's backend_status and supported_features (docs/COMPATIBILITY.md#backend-status): every status
// value, produced by an arrangement of backends registered through a test extension, reported with its exact class
// and message.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BACKEND_STATUS_MESSAGES } from '../src/generation/backends.js';
import { ROOT, TestServer } from './helpers/server.js';

const FIXTURE = path.join(ROOT, 'test/fixtures/test-extension.ts');

let server: TestServer;
let session: string;
before(async () => {
  server = await TestServer.start({ args: ['--extension', FIXTURE] });
  session = await server.session();
});
after(() => server.close());

type Spec = { id: string; status: string; enabled?: boolean; textToImage?: boolean; features?: string[] };

async function statusWith(backends: Spec[]): Promise<Record<string, unknown>> {
  const set = await server.call('FixtureSetBackends', session, { backends });
  assert.deepEqual(set.body, { success: true });
  const res = await server.call('GetCurrentStatus', session);
  assert.equal(res.status, 200);
  return res.body;
}

const backend = (id: string, status: string, extra: Partial<Spec> = {}): Spec => ({ id, status, ...extra });

describe('backend_status', () => {
  const cases: Array<{ name: string; backends: Spec[]; expect: Record<string, unknown> }> = [
    {
      name: 'no text-to-image backend is empty, even when another kind of backend runs',
      backends: [backend('upscaler', 'running', { textToImage: false })],
      expect: { status: 'empty', class: 'error', message: 'No backends present. You must configure backends in the Backends section of the Server tab before you can continue.', any_loading: false },
    },
    {
      name: 'every backend switched off is all_disabled, whatever state they report',
      backends: [backend('a', 'disabled', { enabled: false }), backend('b', 'running', { enabled: false })],
      expect: { status: 'all_disabled', class: 'error', message: 'All backends are disabled. You must enable backends in the Backends section of the Server tab before you can continue.', any_loading: false },
    },
    {
      name: 'one errored backend is errored, with any_loading true while another loads',
      backends: [backend('a', 'errored'), backend('b', 'loading'), backend('c', 'running')],
      expect: { status: 'errored', class: 'error', message: 'Some backends have errored on the server. Check the server logs for details.', any_loading: true },
    },
    {
      name: 'an errored backend with nothing loading has any_loading false',
      backends: [backend('a', 'errored'), backend('b', 'running')],
      expect: { status: 'errored', class: 'error', message: 'Some backends have errored on the server. Check the server logs for details.', any_loading: false },
    },
    {
      name: 'a running backend beside a waiting one is some_loading',
      backends: [backend('a', 'running'), backend('b', 'waiting')],
      expect: { status: 'some_loading', class: 'warn', message: 'Some backends are ready, but others are still loading...', any_loading: true },
    },
    {
      name: 'a running backend beside idle and disabled ones is running, with an empty class and message',
      backends: [backend('a', 'idle'), backend('b', 'running'), backend('c', 'disabled', { enabled: false })],
      expect: { status: 'running', class: '', message: '', any_loading: false },
    },
    {
      name: 'loading without any running backend is loading',
      backends: [backend('a', 'loading'), backend('b', 'idle')],
      expect: { status: 'loading', class: 'soft', message: 'Backends are still loading on the server...', any_loading: true },
    },
    {
      name: 'a disabled backend beside an idle one is disabled',
      backends: [backend('a', 'disabled', { enabled: false }), backend('b', 'idle')],
      expect: { status: 'disabled', class: 'warn', message: 'Some backends are disabled. Please enable or configure them to continue.', any_loading: false },
    },
    {
      name: 'only idle backends are idle',
      backends: [backend('a', 'idle'), backend('b', 'idle')],
      expect: { status: 'idle', class: 'warn', message: 'All backends are idle. Cannot generate until at least one backend is running.', any_loading: false },
    },
    {
      name: 'a backend reporting a state swarmcore does not know is unknown',
      backends: [backend('a', 'rebooting')],
      expect: { status: 'unknown', class: 'error', message: 'Something is wrong with your backends. Please check the Backends section of the Server tab, or the server logs.', any_loading: false },
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const body = await statusWith(c.backends);
      assert.equal(JSON.stringify(body.backend_status), JSON.stringify(c.expect));
    });
  }

  test('every status value the server can report is covered above', () => {
    const seen = new Set(cases.map((c) => c.expect.status));
    assert.deepEqual([...seen].sort(), Object.keys(BACKEND_STATUS_MESSAGES).sort());
    assert.equal(seen.size, 9);
  });
});

describe('supported_features', () => {
  test('is the sorted union of server features and those of enabled, non-idle backends of any kind', async () => {
    const body = await statusWith([
      backend('run', 'running', { features: ['zeta', 'alpha'] }),
      backend('idle', 'idle', { features: ['from_idle'] }),
      backend('off', 'running', { enabled: false, features: ['from_switched_off'] }),
      backend('err', 'errored', { features: ['from_errored', 'alpha'] }),
      backend('load', 'loading', { features: ['Beta'] }),
      backend('wait', 'waiting', { features: ['from_waiting'] }),
      backend('upscale', 'running', { textToImage: false, features: ['from_other_kind'] }),
    ]);
    assert.deepEqual(body.supported_features, ['Beta', 'alpha', 'fixture_server_feature', 'from_errored', 'from_other_kind', 'from_waiting', 'zeta']);
  });

  test('keeps the same JSON text whatever order backends register in', async () => {
    const a = await statusWith([backend('x', 'running', { features: ['b', 'a'] }), backend('y', 'running', { features: ['c'] })]);
    const b = await statusWith([backend('y', 'running', { features: ['c'] }), backend('x', 'running', { features: ['a', 'b'] })]);
    assert.equal(JSON.stringify(a.supported_features), JSON.stringify(b.supported_features));
    assert.deepEqual(a.supported_features, ['a', 'b', 'c', 'fixture_server_feature']);
  });

  test('with no backends lists only the server features', async () => {
    const body = await statusWith([]);
    assert.deepEqual(body, {
      status: { waiting_gens: 0, loading_models: 0, waiting_backends: 0, live_gens: 0 },
      backend_status: { status: 'empty', class: 'error', message: 'No backends present. You must configure backends in the Backends section of the Server tab before you can continue.', any_loading: false },
      supported_features: ['fixture_server_feature'],
    });
  });
});
