// The extension API: routes added by an extension go through the same envelope as built-in ones (sessions,
// permissions, coercion, transports, error shapes), and everything else an extension registers (permissions
// with role defaults, server and user settings, themes, languages) reaches clients. Also the library entry
// point, startServer, embedding extensions in-process, and the CLI's --extension option.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer, type RunningServer } from '../src/index.js';
import proceduralImages from '../examples/procedural-images/index.js';
import fixture from './fixtures/test-extension.js';
import { ROOT, TestServer, eventually, runCli } from './helpers/server.js';

const FIXTURE = path.join(ROOT, 'test/fixtures/test-extension.ts');
const DENIED = { error: 'You lack permission for this route.', error_id: 'bad_permissions' };

let server: TestServer;
let owner: string;
let user: string;
let guest: string;
before(async () => {
  server = await TestServer.start({ args: ['--extension', FIXTURE], settings: { 'Fixture.Greeting': 'hi there' } });
  owner = await server.session();
  user = await server.session({ 'X-SWARM-USER_ID': 'uma' });
  guest = await server.session({ 'X-SWARM-USER_ID': 'gil' });
  const cli = await server.cli(['user', 'set-role', 'gil', 'guest']);
  assert.equal(cli.code, 0, cli.stderr);
  // The CLI's change reaches the running server through the event table.
  assert.ok(await eventually(async () => (await server.call('InterruptAll', guest)).status === 400, 5000), 'the role change never reached the server');
});
after(() => server.close());

describe('an extension route on the envelope', () => {
  test('is refused without its permission exactly as a built-in route is', async () => {
    const ext = await server.call('FixtureEcho', user, { count: 1 });
    const builtIn = await server.call('InterruptAll', guest);
    assert.equal(ext.status, 400);
    assert.deepEqual(ext.body, DENIED);
    assert.equal(ext.text, builtIn.text);
    assert.equal(builtIn.status, 400);
    const everyday = await server.call('FixtureEveryday', guest);
    assert.equal(everyday.status, 400);
    assert.deepEqual(everyday.body, DENIED);
  });

  test('runs for a user holding its permission', async () => {
    assert.equal((await server.call('FixtureEcho', owner, { count: 2 })).text, '{"count":2,"flag":false,"label":null,"greeting":"hi there"}');
    assert.equal((await server.call('FixtureEveryday', user)).text, '{"success":true}');
  });

  test('binds and coerces parameters with the reference rules and messages', async () => {
    const cases: Array<[Record<string, unknown>, unknown]> = [
      [{ count: '5' }, { count: 5, flag: false, label: null, greeting: 'hi there' }],
      [{ count: ' -7 ', flag: 'TRUE', label: 12 }, { count: -7, flag: true, label: '12', greeting: 'hi there' }],
      [{ count: 5.0, flag: true, label: true }, { count: 5, flag: true, label: 'True', greeting: 'hi there' }],
      [{ count: 1, label: null }, { count: 1, flag: false, label: '', greeting: 'hi there' }],
      [{}, { error: "Missing required parameter 'count'" }],
      [{ count: 5.5 }, { error: "Invalid value '5.5' for parameter 'count', must be type 'Int32'" }],
      [{ count: 2147483648 }, { error: "Invalid value '2147483648' for parameter 'count', must be type 'Int32'" }],
      [{ count: 1, flag: 'yes' }, { error: "Invalid value 'yes' for parameter 'flag', must be type 'Boolean'" }],
      [{ count: 1, flag: 1 }, { error: "Invalid value '1' for parameter 'flag', must be type 'Boolean'" }],
    ];
    for (const [input, expected] of cases) {
      const res = await server.call('FixtureEcho', owner, input);
      assert.equal(res.status, 200, JSON.stringify(input));
      assert.deepEqual(res.body, expected, JSON.stringify(input));
    }
    const builtIn = await server.call('InterruptAll', owner, { other_sessions: 'yes' });
    assert.deepEqual(builtIn.body, { error: "Invalid value 'yes' for parameter 'other_sessions', must be type 'Boolean'" });
  });

  test('answers a missing or unknown session with the same errors as a built-in route', async () => {
    for (const route of ['FixtureEcho', 'GetCurrentStatus']) {
      const missing = await server.api(route, { count: 1 });
      assert.equal(missing.status, 400, route);
      assert.deepEqual(missing.body, { error: 'missing session id', error_id: 'basic_api' }, route);
      const unknown = await server.api(route, { session_id: 'f'.repeat(40), count: 1 });
      assert.equal(unknown.status, 401, route);
      assert.deepEqual(unknown.body, { error: 'Invalid session ID. You may need to refresh the page.', error_id: 'invalid_session_id' }, route);
    }
    assert.equal((await server.api('FixtureEcho', { count: 3 }, { 'X-Session-ID': owner })).text, '{"count":3,"flag":false,"label":null,"greeting":"hi there"}');
  });

  test('a handler that throws answers internal_error like any route', async () => {
    const res = await server.call('FixtureThrow', user);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'An internal error occurred.', error_id: 'internal_error' });
  });

  test("a handler's thenable that is not a Promise is waited for; a rejection or a non-object answer is the envelope's internal_error", async () => {
    const internal = `swarmcore_api_calls_total{route="FixtureThenable",transport="http",outcome="internal_error"}`;
    const counted = async (): Promise<number> => {
      const line = (await (await fetch(`${server.url}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${internal} `));
      return line === undefined ? 0 : Number(line.slice(internal.length + 1));
    };
    const before = await counted();
    const resolved = await server.call('FixtureThenable', user);
    assert.equal(resolved.status, 200);
    assert.equal(resolved.text, '{"later":true}');
    for (const input of [{ fail: true }, { text: true }]) {
      const refused = await server.call('FixtureThenable', user, input);
      assert.equal(refused.status, 400, JSON.stringify(input));
      assert.deepEqual(refused.body, { error: 'An internal error occurred.', error_id: 'internal_error' }, JSON.stringify(input));
    }
    // Both were answered by the envelope (counted per route), not by the front door's last-resort handler.
    assert.equal((await counted()) - before, 2);
  });

  test('route names match case-insensitively', async () => {
    assert.equal((await server.call('fixtureecho', owner, { count: 4 })).status, 200);
    assert.equal((await server.call('FIXTUREECHO', owner, { count: 4 })).status, 200);
  });

  test('a WebSocket route streams its messages, then its result, and closes normally', async () => {
    const res = await server.socket('FixtureEchoWS', { session_id: owner, count: '8', flag: 'false', label: 'x' });
    assert.deepEqual(res, { messages: [{ first: true }, { count: 8, flag: false, label: 'x' }], code: 1000 });
  });

  test('a WebSocket route refuses, coerces and mismatches transports exactly as built-in routes do', async () => {
    assert.deepEqual(await server.socket('FixtureEchoWS', { session_id: user, count: 1 }), { messages: [DENIED], code: 1000 });
    assert.deepEqual(await server.socket('FixtureEchoWS', { session_id: owner, count: 'x' }), { messages: [{ error: "Invalid value 'x' for parameter 'count', must be type 'Int32'" }], code: 1000 });
    const overHttp = await server.call('FixtureEchoWS', owner, { count: 1 });
    const builtInOverHttp = await server.call('InstallConfirmWS', owner, {});
    assert.equal(overHttp.status, 400);
    assert.equal(overHttp.body.error_id, 'bad_request_method');
    assert.equal(overHttp.text, builtInOverHttp.text);
    const overWs = await server.socket('FixtureEcho', { session_id: owner, count: 1 });
    const builtInOverWs = await server.socket('GetCurrentStatus', { session_id: owner });
    assert.equal(overWs.messages[0]!.error_id, 'bad_request_method');
    assert.deepEqual(overWs, builtInOverWs);
  });
});

describe('what an extension registers', () => {
  test('a permission reaches roles by its default level: USER for new users, NOBODY only the owner', async () => {
    const res = await server.api('GetNewSession', {}, { 'X-SWARM-USER_ID': 'newcomer' });
    const permissions = res.body.permissions as string[];
    assert.ok(permissions.includes('fixture_everyday'));
    assert.ok(!permissions.includes('fixture_secret'));
    assert.ok(permissions.includes('basic_image_generation'));
    const local = await server.api('GetNewSession', {});
    assert.equal((local.body.permissions as string[])[0], '*');
    assert.ok((local.body.permissions as string[]).includes('fixture_secret'));
  });

  test('a user-setting group appears in GetUserSettings and is changed with ChangeUserSettings like a built-in one', async () => {
    const read = async (): Promise<Record<string, unknown>> => ((await server.call('GetUserSettings', user)).body.settings as Record<string, Record<string, unknown>>).fixture!;
    assert.deepEqual(await read(), {
      type: 'group',
      name: 'Fixture',
      value: {
        shade: { type: 'dropdown', name: 'Shade', value: 'teal', description: 'A colour.', values: ['teal', 'amber'], value_names: ['Teal', 'Amber'], is_secret: false, default_value: 'teal' },
        repeats: { type: 'integer', name: 'Repeats', value: 3, description: 'How often.', values: null, value_names: null, is_secret: false, default_value: 3 },
      },
      description: 'Settings of the test fixture.',
      values: null,
      value_names: null,
      is_secret: false,
    });
    assert.equal((await server.call('ChangeUserSettings', user, { settings: { 'Fixture.Shade': 'amber', 'fixture.repeats': '7' } })).text, '{"success":true}');
    const after = (await read()).value as Record<string, { value: unknown }>;
    assert.equal(after.shade!.value, 'amber');
    assert.equal(after.repeats!.value, 7);
    const refused = await server.call('ChangeUserSettings', user, { settings: { 'fixture.shade': 'red' } });
    assert.equal(refused.status, 200);
    assert.deepEqual(refused.body, { error: `The setting 'fixture.shade' must be one of: teal, amber; "red" is not.` });
    assert.equal(((await read()).value as Record<string, { value: unknown }>).shade!.value, 'amber');
  });

  test("a user setting's default for everyone is the server setting DefaultUser.<Name>", async () => {
    const cli = await server.cli(['settings', 'get', 'DefaultUser.Fixture.Repeats', '--extension', FIXTURE]);
    assert.equal(cli.stdout, '3\n', cli.stderr);
  });

  test('a theme is listed after the built-in ones', async () => {
    const themes = (await server.call('GetUserSettings', user)).body.themes as Record<string, unknown>;
    assert.equal(Object.keys(themes).at(-1), 'fixture_theme');
    assert.deepEqual(themes.fixture_theme, { name: 'Fixture Theme', is_dark: true, css_paths: ['ExtensionFile/test-fixture/fixture.css'] });
  });

  test("an extension's files are served under /ExtensionFile/<name>/ and nothing outside its folder", async () => {
    const css = await fetch(`${server.url}/ExtensionFile/test-fixture/fixture.css`);
    assert.equal(css.status, 200);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal(await css.text(), '/* fixture theme */\nbody { color: teal; }\n');
    for (const p of ['/ExtensionFile/test-fixture/%2e%2e/test-extension.ts', '/ExtensionFile/test-fixture/..%2ftest-extension.ts', '/ExtensionFile/other/fixture.css', '/ExtensionFile/test-fixture/']) {
      const res = await fetch(server.url + p, { redirect: 'manual' });
      assert.equal(res.status, 302, p);
      assert.equal(res.headers.get('location'), '/Error/404', p);
    }
  });

  test('a language is served by GetLanguage and offered by the language setting', async () => {
    const res = await server.call('GetLanguage', user, { language: 'xx' });
    assert.equal(res.text, '{"language":{"code":"xx","name":"Fixture Language","local_name":"Fixturish","keys":{"Generate":"Fixturize","Interrupt":""}}}');
    const settings = (await server.call('GetUserSettings', user)).body.settings as Record<string, { values: string[] }>;
    assert.ok(settings.language!.values.includes('xx'));
  });

  test('a server setting takes --set overrides and is listed by the CLI with --extension', async () => {
    assert.equal((await server.call('FixtureEcho', owner, { count: 1 })).body.greeting, 'hi there');
    const cli = await server.cli(['settings', 'get', 'Fixture.Greeting', '--extension', FIXTURE]);
    assert.equal(cli.stdout, 'hello\n', cli.stderr);
  });
});

describe('embedding', () => {
  let dir: string;
  let embedded: RunningServer;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-embed-'));
    embedded = await startServer({ dataDir: dir, port: 0, extensions: [fixture, proceduralImages], settings: { 'Fixture.Greeting': 'embedded' } });
  });
  after(async () => {
    await embedded.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function post(route: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const res = await fetch(`${embedded.url}/API/${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return (await res.json()) as Record<string, unknown>;
  }

  test('startServer serves extension routes, settings and backends in-process', async () => {
    assert.match(embedded.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const { session_id } = (await post('GetNewSession', {})) as { session_id: string };
    assert.deepEqual(await post('FixtureEcho', { session_id, count: 9 }), { count: 9, flag: false, label: null, greeting: 'embedded' });
    const generated = await post('GenerateText2Image', { session_id, images: 1, prompt: 'embedded', seed: 5, width: 24, height: 24, steps: 2 });
    assert.match((generated.images as string[])[0]!, /^data:image\/png;base64,/);
    assert.deepEqual(embedded.core.services.generation.backends.all().map((b) => b.id), ['procedural-images']);
    assert.deepEqual((await post('GetCurrentStatus', { session_id })).supported_features, ['fixture_server_feature', 'procedural_png']);
  });
});

describe('serve --extension', () => {
  test('a module without an extension as its default export stops the server with a one-line error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-ext-'));
    try {
      const file = path.join(ROOT, 'test/fixtures/not-an-extension.ts');
      const res = await runCli(['serve', '--data-dir', dir, '--port', '0', '--extension', file]);
      assert.equal(res.code, 1);
      assert.equal(res.stderr, `swarmcore: The module ${file} must export an extension (an object with a name and a register function) as its default export.\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an extension route naming an unregistered permission stops the server at start with a message naming the route and the permission', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-ext-'));
    try {
      const file = path.join(ROOT, 'test/fixtures/unknown-permission-extension.ts');
      const res = await runCli(['serve', '--data-dir', dir, '--port', '0', '--extension', file]);
      assert.equal(res.code, 1);
      assert.equal(
        res.stderr,
        "swarmcore: API route 'FixtureTypo' names the permission 'fixture_secert', which is not registered (register permissions before the routes that use them)\n",
      );
      assert.doesNotMatch(res.stdout, /listening/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a module that cannot be found stops the server with a one-line error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-ext-'));
    try {
      const res = await runCli(['serve', '--data-dir', dir, '--port', '0', '--extension', 'no/such/extension.js']);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /^swarmcore: Cannot load the extension \/\S+\/no\/such\/extension\.js: .+\n$/);
      assert.equal(res.stderr.split('\n').length, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
