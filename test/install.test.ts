// InstallConfirmWS over a real server and WebSocket: validation before any change, refusals, the recorded
// choices, and real model downloads from a local HTTP host (verify, skip, resume, failure).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ROOT, TestServer, eventually } from './helpers/server.js';
import { ModelHost, makeFile, type ServedFile } from './helpers/model-files.js';

type Message = Record<string, unknown>;

const BASE_INPUT = { theme: 'ctp_mocha', installed_for: 'just_self', backend: 'none', models: 'none', install_amd: false, language: 'en' };

async function settingsOf(server: TestServer): Promise<Record<string, string>> {
  const { code, stdout, stderr } = await server.cli(['settings', 'get']);
  assert.equal(code, 0, stderr);
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) = (.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

async function install(server: TestServer, input: Record<string, unknown>): Promise<{ messages: Message[]; code: number }> {
  const session = await server.session();
  return server.socket('InstallConfirmWS', { ...input, session_id: session });
}

function step(steps: number, total: number): Message {
  return { progress: 0, total: 0, steps, total_steps: total, per_second: 0 };
}

/** Progress messages during transfers vary in number; everything else is compared exactly. */
const withoutTransferProgress = (messages: Message[]): Message[] => messages.filter((m) => !('progress' in m) || m.progress === 0);

function catalogFor(host: ModelHost, files: Record<string, ServedFile>, sizes = true): object {
  return {
    models: Object.entries(files).map(([name, f]) => ({
      id: name.replace(/\.bin$/, ''),
      name: `Model ${name}`,
      description: '',
      url: `${host.url}/${name}`,
      sha256: f.sha256,
      size: sizes ? f.bytes.length : null,
      file: `Stable-Diffusion/Test/${name}`,
      default: false,
    })),
  };
}

async function serverWithCatalog(host: ModelHost, files: Record<string, ServedFile>): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-install-'));
  writeFileSync(path.join(dataDir, 'catalog.json'), JSON.stringify(catalogFor(host, files)));
  return TestServer.start({ dataDir, settings: { 'Install.ModelCatalog': 'catalog.json' } });
}

describe('installer choices and refusals', () => {
  let server: TestServer;
  before(async () => {
    server = await TestServer.start();
  });
  after(async () => {
    await server.close();
  });

  test('every bad input is refused with a readable error before any setting changes', async () => {
    const before = await settingsOf(server);
    const cases: Array<[Record<string, unknown>, Message[]]> = [
      [{ theme: 'no_such_theme' }, [{ info: "Error: There is no theme 'no_such_theme'." }, { error: "There is no theme 'no_such_theme'." }]],
      [
        { installed_for: 'public' },
        [{ info: "Error: 'public' is not an install type this server offers (choose just_self or just_self_lan)." }, { error: "'public' is not an install type this server offers (choose just_self or just_self_lan)." }],
      ],
      [
        { installed_for: 'constructor' },
        [{ info: "Error: 'constructor' is not an install type this server offers (choose just_self or just_self_lan)." }, { error: "'constructor' is not an install type this server offers (choose just_self or just_self_lan)." }],
      ],
      [
        { backend: 'comfy' },
        [{ info: "Error: 'comfy' is not a backend this installer knows (choose comfyui or none)." }, { error: "'comfy' is not a backend this installer knows (choose comfyui or none)." }],
      ],
      [{ models: 'sdxl1, nope' }, [{ info: "Error: There is no model 'nope' in the model list." }, { error: "There is no model 'nope' in the model list." }]],
      [{ models: 'sdxl1,' }, [{ info: "Error: There is no model '' in the model list." }, { error: "There is no model '' in the model list." }]],
      [{ install_amd: 'yes' }, [{ error: "Invalid value 'yes' for parameter 'install_amd', must be type 'Boolean'" }]],
      [{ theme: undefined }, [{ error: "Missing required parameter 'theme'" }]],
    ];
    for (const [change, expected] of cases) {
      const input: Record<string, unknown> = { ...BASE_INPUT, ...change };
      for (const k of Object.keys(input)) if (input[k] === undefined) delete input[k];
      const { messages, code } = await install(server, input);
      assert.deepEqual(messages, expected, JSON.stringify(change));
      assert.equal(code, 1000);
    }
    assert.deepEqual(await settingsOf(server), before);
    assert.equal(existsSync(path.join(server.dataDir, 'Models')), false);
    assert.equal((await fetch(`${server.url}/Install`, { redirect: 'manual' })).status, 200);
  });

  test('users without the install permission are refused', async () => {
    const session = await server.session({ 'X-SWARM-USER_ID': 'visitor' });
    const { messages } = await server.socket('InstallConfirmWS', { ...BASE_INPUT, session_id: session });
    assert.deepEqual(messages, [{ error: 'You lack permission for this route.', error_id: 'bad_permissions' }]);
  });

  test('the route refuses plain HTTP', async () => {
    const res = await server.call('InstallConfirmWS', await server.session(), BASE_INPUT);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'This API route needs a WebSocket, but the request is plain HTTP.', error_id: 'bad_request_method' });
  });

  test('an install without models records every choice, reports each step and marks the server installed', async () => {
    const { messages, code } = await install(server, { ...BASE_INPUT, installed_for: 'just_self_lan', language: 'xx', install_amd: true });
    assert.equal(code, 1000);
    assert.deepEqual(messages, [
      { info: 'Installation request received; every choice checks out.' },
      { info: "There is no language 'xx'; English is used instead." },
      step(2, 4),
      { info: 'No backend will be set up.' },
      step(3, 4),
      { info: "Default theme set to 'ctp_mocha'." },
      { info: "Default language set to 'en'." },
      { info: 'Set up for use on this computer and the local network (listening on 0.0.0.0, port 7801). Network changes take effect when the server restarts.' },
      step(4, 4),
      { info: 'Installation complete.' },
      { success: true },
    ]);
    const s = await settingsOf(server);
    const today = new Date();
    const date = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, '0')}-${String(today.getDate()).padStart(2, '0')}`;
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.deepEqual(
      {
        IsInstalled: s.IsInstalled,
        InstallDate: s.InstallDate,
        InstallVersion: s.InstallVersion,
        theme: s['DefaultUser.Theme'],
        language: s['DefaultUser.Language'],
        host: s['Network.Host'],
        port: s['Network.Port'],
        portCanChange: s['Network.PortCanChange'],
        backend: s['Install.Backend'],
        amd: s['Install.AMD'],
      },
      { IsInstalled: 'true', InstallDate: date, InstallVersion: version, theme: 'ctp_mocha', language: 'en', host: '0.0.0.0', port: '7801', portCanChange: 'true', backend: 'none', amd: 'true' },
    );
    const page = await fetch(`${server.url}/Install`, { redirect: 'manual' });
    assert.deepEqual([page.status, page.headers.get('location')], [302, 'Text2Image']);
  });

  test('an installed server refuses to install again and changes nothing', async () => {
    const before = await settingsOf(server);
    const { messages } = await install(server, { ...BASE_INPUT, theme: 'modern_light', backend: 'comfyui' });
    assert.deepEqual(messages, [{ error: 'This server is already installed.' }]);
    assert.deepEqual(await settingsOf(server), before);
  });
});

describe('installer model downloads', () => {
  const files = {
    'alpha.bin': makeFile(300_000),
    'beta.bin': makeFile(700_000, 'drop-once'),
    'gone.bin': makeFile(1000, 'missing'),
    'bad.bin': makeFile(50_000, 'corrupt'),
    'held.bin': makeFile(400_000, 'hold'),
    'partial.bin': makeFile(500_000),
  };
  let host: ModelHost;
  before(async () => {
    host = await ModelHost.start(files);
  });
  after(async () => {
    await host.close();
  });

  test('chosen models are downloaded into Models, verified, resumed after a dropped connection, and failures are reported while the rest continue, named again in the last message', async () => {
    const server = await serverWithCatalog(host, files);
    try {
      const { messages } = await install(server, { ...BASE_INPUT, models: 'gone, alpha, beta, bad' });
      const corruptHash = createHash('sha256').update(Buffer.from(files['bad.bin'].bytes).fill(0x41, 0, 16)).digest('hex');
      const url = (n: string): string => `${host.url}/${n}`;
      assert.deepEqual(withoutTransferProgress(messages), [
        { info: 'Installation request received; every choice checks out.' },
        step(2, 8),
        { info: 'No backend will be set up.' },
        step(3, 8),
        { info: `Downloading Model gone.bin from '${url('gone.bin')}'...` },
        {
          info: `Could not download Model gone.bin from '${url('gone.bin')}': the server answered HTTP 404 Not Found. The installation continues without it; any partial file is kept so a later download can continue.`,
        },
        step(4, 8),
        { info: `Downloading Model alpha.bin from '${url('alpha.bin')}'...` },
        { info: 'Model alpha.bin downloaded and verified.' },
        step(5, 8),
        { info: `Downloading Model beta.bin from '${url('beta.bin')}'...` },
        { info: 'Model beta.bin downloaded and verified.' },
        step(6, 8),
        { info: `Downloading Model bad.bin from '${url('bad.bin')}'...` },
        {
          info: `Could not download Model bad.bin from '${url('bad.bin')}': the file's SHA-256 is ${corruptHash}, not the expected ${files['bad.bin'].sha256}. The installation continues without it; any partial file is kept so a later download can continue.`,
        },
        step(7, 8),
        { info: "Default theme set to 'ctp_mocha'." },
        { info: "Default language set to 'en'." },
        { info: 'Set up for use on this computer only (listening on localhost, port 7801). Network changes take effect when the server restarts.' },
        step(8, 8),
        { info: 'Installation complete.' },
        {
          success: true,
          missing_models: [
            { id: 'gone', name: 'Model gone.bin', error: 'the server answered HTTP 404 Not Found' },
            { id: 'bad', name: 'Model bad.bin', error: `the file's SHA-256 is ${corruptHash}, not the expected ${files['bad.bin'].sha256}` },
          ],
        },
      ]);
      // Transfer progress: bytes grow to the file size, on the model's step.
      const betaProgress = messages.filter((m) => typeof m.progress === 'number' && m.progress > 0 && m.total === files['beta.bin'].bytes.length);
      assert.ok(betaProgress.length >= 1);
      assert.deepEqual(betaProgress.at(-1), { ...betaProgress.at(-1), progress: 700_000, total: 700_000, steps: 5, total_steps: 8 });
      // beta was cut after half its bytes, then continued with a Range request from what had reached the file
      // (on a busy machine some of the sent half may not have been read or written yet when the cut came).
      const betaRequests = host.seen.filter((r) => r.path === 'beta.bin');
      assert.deepEqual(betaRequests.map((r) => r.range === null), [true, false]);
      const resumedAt = Number(/^bytes=(\d+)-$/.exec(betaRequests[1]!.range!)?.[1]);
      assert.ok(resumedAt > 0 && resumedAt <= 350_000, `resumed at ${betaRequests[1]!.range}`);
      const dir = path.join(server.dataDir, 'Models', 'Stable-Diffusion', 'Test');
      assert.deepEqual(readdirSync(dir).sort(), ['alpha.bin', 'beta.bin']);
      assert.ok(readFileSync(path.join(dir, 'alpha.bin')).equals(files['alpha.bin'].bytes));
      assert.ok(readFileSync(path.join(dir, 'beta.bin')).equals(files['beta.bin'].bytes));
      assert.equal((await settingsOf(server)).IsInstalled, 'true');
    } finally {
      await server.close();
    }
  });

  test('a model already present with the right checksum is skipped without a request', async () => {
    const server = await serverWithCatalog(host, files);
    try {
      const dir = path.join(server.dataDir, 'Models', 'Stable-Diffusion', 'Test');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'alpha.bin'), files['alpha.bin'].bytes);
      const seenBefore = host.seen.length;
      const { messages } = await install(server, { ...BASE_INPUT, models: 'alpha' });
      assert.deepEqual(messages.slice(4, 6), [{ info: `Downloading Model alpha.bin from '${host.url}/alpha.bin'...` }, { info: 'Model alpha.bin is already here and its checksum matches; skipped.' }]);
      assert.equal(host.seen.length, seenBefore);
      assert.deepEqual(messages.at(-1), { success: true });
    } finally {
      await server.close();
    }
  });

  test('a partial file left by an earlier run is continued from its length and verified', async () => {
    const server = await serverWithCatalog(host, files);
    try {
      const dir = path.join(server.dataDir, 'Models', 'Stable-Diffusion', 'Test');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'partial.bin.part'), files['partial.bin'].bytes.subarray(0, 123_456));
      const { messages } = await install(server, { ...BASE_INPUT, models: 'partial' });
      assert.deepEqual(messages.filter((m) => 'info' in m)[3], { info: 'Model partial.bin downloaded (continued from byte 123456) and verified.' });
      assert.deepEqual(host.seen.filter((r) => r.path === 'partial.bin'), [{ path: 'partial.bin', range: 'bytes=123456-' }]);
      assert.ok(readFileSync(path.join(dir, 'partial.bin')).equals(files['partial.bin'].bytes));
      assert.equal(existsSync(path.join(dir, 'partial.bin.part')), false);
    } finally {
      await server.close();
    }
  });

  test('a second install while one runs is refused, and leaving midway marks nothing installed', async () => {
    const server = await serverWithCatalog(host, files);
    try {
      const session = await server.session();
      const first = new WebSocket(`${server.url.replace('http', 'ws')}/API/InstallConfirmWS`);
      const firstMessages: Message[] = [];
      first.on('message', (d) => firstMessages.push(JSON.parse(String(d)) as Message));
      await new Promise((resolve) => first.on('open', resolve));
      first.send(JSON.stringify({ ...BASE_INPUT, models: 'held', session_id: session }));
      assert.ok(await eventually(async () => host.seen.some((r) => r.path === 'held.bin')), 'the held transfer never started');
      const second = await install(server, BASE_INPUT);
      assert.deepEqual(second.messages, [
        { info: 'Error: Another installation is running on this server right now. Wait for it to finish, then reload the page.' },
        { error: 'Another installation is running on this server right now. Wait for it to finish, then reload the page.' },
      ]);
      first.close();
      await new Promise((resolve) => first.on('close', resolve));
      host.release();
      // The abandoned run stops within moments and leaves the server uninstalled; then a new run is accepted.
      assert.ok(await eventually(async () => server.output.includes('the installer page went away')), 'the abandoned run never stopped');
      assert.equal((await settingsOf(server)).IsInstalled, 'false');
      let third = { messages: [] as Message[], code: 0 };
      const accepted = await eventually(async () => {
        third = await install(server, BASE_INPUT);
        return !String(third.messages[0]?.info).includes('Another installation');
      });
      assert.ok(accepted, 'a new run was still refused after the abandoned one stopped');
      assert.equal((await settingsOf(server)).IsInstalled, 'true');
      assert.deepEqual(third.messages.at(-1), { success: true });
      assert.deepEqual(firstMessages.slice(0, 5), [
        { info: 'Installation request received; every choice checks out.' },
        step(2, 5),
        { info: 'No backend will be set up.' },
        step(3, 5),
        { info: `Downloading Model held.bin from '${host.url}/held.bin'...` },
      ]);
    } finally {
      await server.close();
    }
  });
});
