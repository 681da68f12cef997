// The typed client `swarmcore/client` against the real server: every built-in route through its generated
// method, the error mapping (hard, soft, session renewal), login with accounts on, a WebSocket route, extension
// routes through `call` and `stream`, the README's example, and the two promises of the package entry: the
// generated file matches the route declarations, and the client runs outside Node (no Node import, no Node type).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import ts from 'typescript';
import WebSocket from 'ws';
import { GENERATED_FILE, renderClientRoutes } from '../scripts/gen-client.js';
import { BUILT_IN_ROUTES } from '../src/routes/index.js';
import { SwarmApiError, SwarmClient, prehashPassword } from '../src/client/index.js';
import { ROOT, TestServer, prehash, runCli } from './helpers/server.js';
import { JUST_SELF_INSTALL, JUST_SELF_INSTALL_MESSAGES } from './helpers/install.js';
import { CookieJar, acceptServer, registrationSettings, request, signInAtProvider, startProvider, type TestProvider } from './helpers/oidc-provider.js';

const FIXTURE = path.join(ROOT, 'test/fixtures/test-extension.ts');
const CLIENT_DIR = path.join(ROOT, 'src/client');
const ACCOUNTS_ON = {
  'UserAuthorization.AuthorizationRequired': true,
  'UserAuthorization.AllowLocalhostBypass': false,
  'UserAuthorization.Registration.AllowRegistration': true,
  'UserAuthorization.Registration.SimplePasswordRegistration': true,
};
const INSTALL_INPUT = JUST_SELF_INSTALL;

/** Built-in routes a test below called through the client and saw succeed. */
const succeeded = new Set<string>();

/** The rejection of `promise`, which must be a SwarmApiError. */
async function refusal(promise: Promise<unknown>): Promise<SwarmApiError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SwarmApiError, `expected a SwarmApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('the call succeeded');
}

function errorParts(err: SwarmApiError): Record<string, unknown> {
  return { message: err.message, errorId: err.errorId, status: err.status, route: err.route, body: err.body };
}

async function collect<M>(messages: AsyncIterable<M>): Promise<M[]> {
  const out: M[] = [];
  for await (const m of messages) out.push(m);
  return out;
}

/** Exactly equal types (for the compile-time checks below). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const typeIs = <_T extends true>(): void => undefined;

/**
 * Checked by the type check (`npm run typecheck`), never run: the generated methods carry the declared
 * parameter and result types, error shapes are not results, and wrong calls do not compile.
 */
export async function generatedTypesAreTheDeclaredOnes(c: SwarmClient): Promise<void> {
  typeIs<Equal<Awaited<ReturnType<SwarmClient['getAPIKeyStatus']>>, { status: string }>>();
  typeIs<Equal<Awaited<ReturnType<SwarmClient['deletePreset']>>, { success: boolean }>>();
  typeIs<Equal<Awaited<ReturnType<SwarmClient['addNewPreset']>>, { success: true } | { preset_fail: string }>>();
  typeIs<Equal<Awaited<ReturnType<SwarmClient['logout']>>, { success: 'true' }>>();
  typeIs<Equal<Awaited<ReturnType<SwarmClient['getMyUserData']>>['autocompletions'], string[] | null>>();
  typeIs<Equal<Awaited<ReturnType<SwarmClient['getMyUserData']>>['presets'][number]['param_map'], Record<string, string>>>();
  typeIs<Equal<Parameters<SwarmClient['setStarredModels']>[0], Record<string, string[]> | undefined>>();
  typeIs<Equal<Parameters<SwarmClient['interruptAll']>[0], { other_sessions?: boolean } | undefined>>();
  // @ts-expect-error title is required
  await c.addNewPreset({ description: '', param_map: {} });
  // @ts-expect-error other_sessions is a boolean
  await c.interruptAll({ other_sessions: 'yes' });
  // @ts-expect-error no such route method
  await c.getNoSuchThing();
}

describe('the generated routes and the browser constraint', () => {
  test('the committed routes.generated.ts is exactly what the route declarations render (run npm run gen:client after changing a route)', () => {
    assert.equal(readFileSync(GENERATED_FILE, 'utf8'), renderClientRoutes(BUILT_IN_ROUTES));
  });

  test('the client imports nothing but files of src/client/: no node: modules, no packages', () => {
    const seen = new Set<string>();
    const bad: string[] = [];
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
      for (const { fileName } of importedFiles) {
        const target = path.resolve(path.dirname(file), fileName.replace(/\.js$/, '.ts'));
        if (!fileName.startsWith('.') || path.dirname(target) !== CLIENT_DIR) bad.push(`${path.relative(ROOT, file)} imports '${fileName}'`);
        else visit(target);
      }
    };
    visit(path.join(CLIENT_DIR, 'index.ts'));
    assert.deepEqual(bad, []);
    assert.deepEqual([...seen].map((f) => path.basename(f)).sort(), ['index.ts', 'prehash.ts', 'routes.generated.ts']);
  });

  test("the client compiles with only the browser's types (DOM, no Node types), and its compiled ./client export loads in plain Node 20 and calls a live server", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-client-'));
    const server = await TestServer.start();
    try {
      // A package laid out as npm installs it: package.json with this repository's exports, the compiled client.
      const pkg = path.join(dir, 'node_modules/swarmcore');
      const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; default: string }>; type: string };
      const build = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { rootDir: string; outDir: string } };
      assert.deepEqual(manifest.exports['./client'], { types: './dist/client/index.d.ts', default: './dist/client/index.js' });
      assert.deepEqual([build.compilerOptions.rootDir, build.compilerOptions.outDir], ['src', 'dist'], 'the export paths assume src/ compiles to dist/');
      const program = ts.createProgram([path.join(CLIENT_DIR, 'index.ts')], {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
        types: [],
        strict: true,
        verbatimModuleSyntax: true,
        declaration: true,
        rootDir: path.join(ROOT, 'src'),
        outDir: path.join(pkg, 'dist'),
      });
      const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      assert.deepEqual(diagnostics, []);
      assert.deepEqual(
        program.getSourceFiles().filter((f) => f.fileName.includes('@types/')).map((f) => f.fileName),
        [],
      );
      assert.equal(program.emit().emitSkipped, false);
      // A page's own use: the browser's WebSocket and cookie jar, a same-origin base URL.
      const page = path.join(dir, 'page.mts');
      writeFileSync(
        page,
        [
          `import { SwarmClient, SwarmApiError } from ${JSON.stringify(path.join(CLIENT_DIR, 'index.js'))};`,
          "const client = new SwarmClient({ baseUrl: '', WebSocket, credentials: 'same-origin' });",
          "for await (const m of client.installConfirmWS({ theme: 't', installed_for: 'just_self', backend: 'none', models: 'none', install_amd: false, language: 'en' })) if ('info' in m) document.title = m.info;",
          "client.getMyUserData().then((me) => (document.title = me.user_name), (e: unknown) => e instanceof SwarmApiError && console.log(e.errorId));",
          'export {};',
        ].join('\n'),
      );
      const pageProgram = ts.createProgram([page], { ...program.getCompilerOptions(), noEmit: true, declaration: false, rootDir: undefined, outDir: undefined });
      assert.deepEqual(ts.getPreEmitDiagnostics(pageProgram).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), []);
      writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'swarmcore', type: manifest.type, exports: manifest.exports }));
      symlinkSync(path.join(ROOT, 'node_modules/ws'), path.join(dir, 'node_modules/ws'));
      const script = path.join(dir, 'use.mjs');
      writeFileSync(
        script,
        [
          "import { SwarmClient, SwarmApiError } from 'swarmcore/client';",
          `const client = new SwarmClient({ baseUrl: ${JSON.stringify(server.url)}, WebSocket: (await import('ws')).default });`,
          'const me = await client.getMyUserData();',
          'const refused = await client.getLanguage({ language: "tlh" }).catch((e) => e);',
          'const failed = await (async () => { for await (const m of client.installConfirmWS({ theme: "nope", installed_for: "just_self", backend: "none", models: "none", install_amd: false, language: "en" })) void m; })().catch((e) => e);',
          'const parts = (e) => (e instanceof SwarmApiError ? [e.message, e.errorId, e.status] : String(e));',
          'console.log(JSON.stringify({ user: me.user_name, refused: parts(refused), failed: parts(failed) }));',
        ].join('\n'),
      );
      const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const proc = spawn(process.execPath, [script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
        proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
        proc.on('exit', (code) => resolve({ code, out }));
      });
      assert.equal(run.code, 0, run.out);
      assert.equal(run.out, `${JSON.stringify({ user: 'local', refused: ['No such language.', null, 200], failed: ["There is no theme 'nope'.", null, 0] })}\n`);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a WebSocket route without a global or given WebSocket fails with a message that says what to pass', async () => {
    const client = new SwarmClient({ baseUrl: 'http://127.0.0.1:9' });
    await assert.rejects(collect(client.installConfirmWS(INSTALL_INPUT)), {
      message: "InstallConfirmWS is a WebSocket route, and this runtime has no global WebSocket: pass one, e.g. new SwarmClient({ baseUrl, WebSocket: (await import('ws')).default }) in Node 20",
    });
  });

  test('the prehash is the login page’s: hex SHA-256 of swarmclientpw:<cleaned user id>:<password>', async () => {
    assert.equal(await prehashPassword('Alice', 'correct horse'), await prehash('alice', 'correct horse'));
    assert.equal(await prehashPassword('a.l-ice', 'pw'), await prehash('alice', 'pw'));
  });
});

describe('with accounts off (the local user), and the test extension', () => {
  let server: TestServer;
  const client = (): SwarmClient => new SwarmClient({ baseUrl: server.url, WebSocket });
  before(async () => {
    server = await TestServer.start({ args: ['--extension', FIXTURE], settings: { 'Fixture.Greeting': 'hi there' } });
  });
  after(() => server.close());

  test('the first call gets a session by itself; sessionId reads it and can be set', async () => {
    const c = client();
    assert.equal(c.sessionId, null);
    const status = await c.getCurrentStatus();
    assert.deepEqual(status, {
      status: { waiting_gens: 0, loading_models: 0, waiting_backends: 0, live_gens: 0 },
      backend_status: { status: 'empty', class: 'error', message: 'No backends present. You must configure backends in the Backends section of the Server tab before you can continue.', any_loading: false },
      supported_features: ['fixture_server_feature'],
    });
    assert.match(c.sessionId ?? '', /^[0-9a-f]{52}$/);
    const other = await server.session();
    c.sessionId = other;
    assert.deepEqual(await c.interruptAll({ other_sessions: false }), { success: true });
    assert.equal(c.sessionId, other);
    const fresh = await c.getNewSession();
    assert.equal(c.sessionId, fresh.session_id);
    const raw = (await server.api('GetNewSession')).body;
    assert.deepEqual({ ...fresh, session_id: '' }, { ...raw, session_id: '' });
    assert.equal(fresh.user_id, 'local');
    for (const r of ['GetCurrentStatus', 'InterruptAll', 'GetNewSession']) succeeded.add(r);
  });

  test('concurrent first calls share one new session', async () => {
    const calls: string[] = [];
    const c = new SwarmClient({
      baseUrl: server.url,
      fetch: (url, init) => {
        calls.push(String(url).slice(server.url.length));
        return fetch(url, init);
      },
    });
    await Promise.all([c.getCurrentStatus(), c.getCurrentStatus(), c.getCurrentStatus()]);
    assert.deepEqual(calls, ['/API/GetNewSession', '/API/GetCurrentStatus', '/API/GetCurrentStatus', '/API/GetCurrentStatus']);
  });

  test('every preset route answers through its method exactly as over raw HTTP', async () => {
    const c = client();
    assert.deepEqual(await c.addNewPreset({ title: 'Portrait', description: 'Soft light', param_map: { steps: 30, sampler: 'euler' }, is_starred: true }), { success: true });
    assert.deepEqual(await c.addNewPreset({ title: 'Portrait', description: 'again', param_map: {} }), { preset_fail: 'A preset with that title already exists.' });
    assert.deepEqual(await c.duplicatePreset({ preset: 'portrait' }), { success: true });
    assert.deepEqual(await c.duplicatePreset({ preset: 'nothing' }), { preset_fail: 'No such preset.' });
    const exported = await c.exportUserPresets({ titles: ['Portrait'] });
    assert.deepEqual(exported, {
      presets: [{ author: 'local', title: 'Portrait', description: 'Soft light', preview_image: 'imgs/model_placeholder.jpg', is_starred: true, param_map: { steps: '30', sampler: 'euler' } }],
    });
    assert.deepEqual(await c.setPresetLinks({ 'Stable-Diffusion': { 'base.safetensors': ['Portrait'] } }), { success: true });
    assert.deepEqual(await c.deletePreset({ preset: 'Portrait (2)' }), { success: true });
    assert.deepEqual(await c.deletePreset({ preset: 'Portrait (2)' }), { success: false });
    const data = await c.getMyUserData();
    assert.deepEqual(data, (await server.call('GetMyUserData', c.sessionId!)).body);
    assert.deepEqual(data.model_preset_links, { 'Stable-Diffusion': { 'base.safetensors': ['Portrait'] } });
    assert.deepEqual(
      data.presets.map((p) => p.title),
      ['Portrait'],
    );
    for (const r of ['AddNewPreset', 'DuplicatePreset', 'ExportUserPresets', 'SetPresetLinks', 'DeletePreset', 'GetMyUserData']) succeeded.add(r);
  });

  test('every user data and settings route answers through its method exactly as over raw HTTP', async () => {
    const c = client();
    assert.deepEqual(await c.setStarredModels({ 'Stable-Diffusion': ['a.safetensors', 'b.safetensors'] }), { success: true });
    assert.deepEqual((await c.getMyUserData()).starred_models, { 'Stable-Diffusion': ['a.safetensors', 'b.safetensors'] });
    const language = await c.getLanguage({ language: 'xx' });
    assert.deepEqual(language, (await server.call('GetLanguage', c.sessionId!, { language: 'xx' })).body);
    assert.deepEqual([language.language.code, language.language.name, language.language.local_name, language.language.keys.Generate], ['xx', 'Fixture Language', 'Fixturish', 'Fixturize']);
    assert.deepEqual(await c.serverDebugMessage({ message: 'hello from the client' }), { success: true });
    // Only `success` is asserted: the answer may list more (entries it skipped) without this test caring.
    assert.equal((await c.changeUserSettings({ settings: { 'fixture.shade': 'amber' } })).success, true);
    const settings = await c.getUserSettings();
    assert.deepEqual(settings, (await server.call('GetUserSettings', c.sessionId!)).body);
    assert.equal((settings.settings.fixture!.value as Record<string, { value: unknown }>).shade!.value, 'amber');
    assert.deepEqual(await c.setParamEdits({ edits: { groups: { sampling: { open: true } }, params: {} } }), { success: true });
    assert.deepEqual(await c.setAPIKey({ keyType: 'civitai_api', key: 'k-123' }), { success: true });
    assert.match((await c.getAPIKeyStatus({ keyType: 'civitai_api' })).status, /^last updated \d{4}-\d\d-\d\d \d\d:\d\d$/);
    assert.deepEqual(await c.getAPIKeyStatus({ keyType: 'huggingface_api' }), { status: 'not set' });
    for (const r of ['SetStarredModels', 'GetLanguage', 'ServerDebugMessage', 'ChangeUserSettings', 'GetUserSettings', 'SetParamEdits', 'SetAPIKey', 'GetAPIKeyStatus']) succeeded.add(r);
  });

  test('a hard error (error_id, HTTP 4xx) is thrown as SwarmApiError with its id, text and status', async () => {
    const c = client();
    assert.deepEqual(errorParts(await refusal(c.call('NoSuchRoute'))), {
      message: 'Unknown API route',
      errorId: 'bad_route',
      status: 400,
      route: 'NoSuchRoute',
      body: { error: 'Unknown API route', error_id: 'bad_route' },
    });
    assert.deepEqual(errorParts(await refusal(c.call('FixtureThrow'))), {
      message: 'An internal error occurred.',
      errorId: 'internal_error',
      status: 400,
      route: 'FixtureThrow',
      body: { error: 'An internal error occurred.', error_id: 'internal_error' },
    });
  });

  test('a soft error (only an error text, HTTP 200) is thrown as SwarmApiError with errorId null', async () => {
    const c = client();
    assert.deepEqual(errorParts(await refusal(c.getLanguage({ language: 'tlh' }))), {
      message: 'No such language.',
      errorId: null,
      status: 200,
      route: 'GetLanguage',
      body: { error: 'No such language.' },
    });
    assert.deepEqual(errorParts(await refusal(c.call('FixtureEcho', { count: 'many' }))), {
      message: "Invalid value 'many' for parameter 'count', must be type 'Int32'",
      errorId: null,
      status: 200,
      route: 'FixtureEcho',
      body: { error: "Invalid value 'many' for parameter 'count', must be type 'Int32'" },
    });
  });

  test('a call whose session was ended gets a new session and is retried once; ChangePassword ends the other sessions', async () => {
    const a = client();
    const b = client();
    await a.getCurrentStatus();
    const before = a.sessionId!;
    assert.deepEqual(await b.changePassword({ oldPassword: '', newPassword: await prehashPassword('local', 'a new password') }), { success: true });
    succeeded.add('ChangePassword');
    // The server has ended a's session...
    const stale = await server.call('GetCurrentStatus', before);
    assert.equal(stale.status, 401);
    // ...and a's next call renews it and succeeds.
    assert.deepEqual(await a.interruptAll(), { success: true });
    assert.notEqual(a.sessionId, before);
    assert.match(a.sessionId!, /^[0-9a-f]{52}$/);
    assert.equal((await server.call('InterruptAll', a.sessionId!)).status, 200);
  });

  test('a session id the server does not know, set by hand, is replaced on the first call', async () => {
    const c = client();
    c.sessionId = 'f'.repeat(40);
    const renewed = await c.getCurrentStatus();
    assert.equal(renewed.status.live_gens, 0);
    assert.notEqual(c.sessionId, 'f'.repeat(40));
  });

  test('an extension route is called with c.call, and an extension WebSocket route with c.stream', async () => {
    const c = client();
    assert.deepEqual(await c.call('FixtureEcho', { count: 2, label: 'x' }), { count: 2, flag: false, label: 'x', greeting: 'hi there' });
    assert.deepEqual(await c.call('fixtureeveryday'), { success: true });
    assert.deepEqual(await collect(c.stream('FixtureEchoWS', { count: 3, flag: true })), [{ first: true }, { count: 3, flag: true, label: null }]);
    const err = await refusal(collect(c.stream('FixtureEchoWS', { count: 'x' })));
    assert.deepEqual(errorParts(err), { message: "Invalid value 'x' for parameter 'count', must be type 'Int32'", errorId: null, status: 0, route: 'FixtureEchoWS', body: { error: "Invalid value 'x' for parameter 'count', must be type 'Int32'" } });
  });

  test('the WebSocket route InstallConfirmWS yields its messages; its error message ends the loop as a SwarmApiError', async () => {
    const c = client();
    const refused = await refusal(collect(c.installConfirmWS({ ...INSTALL_INPUT, theme: 'nope' })));
    assert.deepEqual(errorParts(refused), { message: "There is no theme 'nope'.", errorId: null, status: 0, route: 'InstallConfirmWS', body: { error: "There is no theme 'nope'." } });
    const seen: unknown[] = [];
    for await (const message of c.installConfirmWS(INSTALL_INPUT)) seen.push(message);
    assert.deepEqual(seen, JUST_SELF_INSTALL_MESSAGES);
    succeeded.add('InstallConfirmWS');
    assert.deepEqual(errorParts(await refusal(collect(c.installConfirmWS(INSTALL_INPUT)))), {
      message: 'This server is already installed.',
      errorId: null,
      status: 0,
      route: 'InstallConfirmWS',
      body: { error: 'This server is already installed.' },
    });
    // A session the server does not know is renewed before the socket route runs, as for HTTP routes.
    c.sessionId = 'e'.repeat(40);
    const again = await refusal(collect(c.installConfirmWS(INSTALL_INPUT)));
    assert.equal(again.message, 'This server is already installed.');
    assert.notEqual(c.sessionId, 'e'.repeat(40));
  });
});

describe('the administration routes (local owner)', () => {
  let server: TestServer;
  before(async () => {
    server = await TestServer.start();
  });
  after(() => server.close());

  test('roles, users, settings, status and the audit log work through their generated methods', async () => {
    const c = new SwarmClient({ baseUrl: server.url, WebSocket });
    assert.deepEqual(await c.adminAddRole({ name: 'painter' }), { success: true });
    const edit = { name: 'painter', description: 'Paints.', max_outpath_depth: 5, max_t2i_simultaneous: 2, allow_unsafe_outpaths: false, model_whitelist: '', model_blacklist: '', permissions: 'fundamental_model_access' };
    assert.deepEqual(await c.adminEditRole(edit), { success: true });
    const painter = (await c.adminListRoles()).roles.painter;
    assert.deepEqual([painter?.description, painter?.permissions], ['Paints.', ['fundamental_model_access']]);
    assert.equal((await c.adminListPermissions()).permissions.fundamental_model_access?.default, 'GUEST');
    assert.deepEqual(await c.adminAddUser({ name: 'carol', password: 'carol password', role: 'painter' }), { success: true });
    assert.ok((await c.adminListUsers()).users.includes('carol'));
    assert.deepEqual((await c.adminListUserSummaries()).users.find((u) => u.id === 'carol')?.roles, ['painter']);
    assert.deepEqual(await c.adminChangeUserSettings({ name: 'carol', settings: { language: 'de' } }), { success: true });
    const info = await c.adminGetUserInfo({ name: 'carol' });
    assert.deepEqual([info.user_id, info.password_set_by_admin], ['carol', true]);
    assert.deepEqual(await c.adminSetUserPassword({ name: 'carol', password: 'another password' }), { success: true });
    assert.deepEqual(await c.adminInterruptUser({ name: 'carol' }), { success: true });
    assert.ok((await c.listConnectedUsers()).users.some((u) => u.id === 'local'));
    assert.deepEqual((await c.getGlobalStatus()).status.waiting_gens, 0);
    // A tree of groups: UserAuthorization.InstanceTitle is userauthorization -> instancetitle.
    const title = async (): Promise<unknown> => ((await c.listServerSettings()).settings.userauthorization?.value as Record<string, { value: unknown }>).instancetitle?.value;
    assert.equal(await title(), 'Local');
    assert.deepEqual(await c.changeServerSettings({ settings: { 'UserAuthorization.InstanceTitle': 'Studio' } }), { success: true });
    assert.equal(await title(), 'Studio');
    const actions = (await c.adminListAuditLog({})).entries.map((e) => e.action);
    assert.ok(actions.includes('user.add') && actions.includes('settings.change'), actions.join(', '));
    assert.deepEqual(await c.adminDeleteUser({ name: 'carol' }), { success: true });
    assert.deepEqual(await c.adminDeleteRole({ name: 'painter' }), { success: true });
    for (const r of ['AdminAddRole', 'AdminEditRole', 'AdminListRoles', 'AdminListPermissions', 'AdminAddUser', 'AdminListUsers', 'AdminListUserSummaries', 'AdminChangeUserSettings', 'AdminGetUserInfo', 'AdminSetUserPassword', 'AdminInterruptUser', 'ListConnectedUsers', 'GetGlobalStatus', 'ListServerSettings', 'ChangeServerSettings', 'AdminListAuditLog', 'AdminDeleteUser', 'AdminDeleteRole']) succeeded.add(r);
  });
});

describe('with accounts on', () => {
  let server: TestServer;
  let dataDir: string;
  const client = (): SwarmClient => new SwarmClient({ baseUrl: server.url, WebSocket });
  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-client-accounts-'));
    const r = await runCli(['user', 'add', 'alice', '--password', 'correct horse', '--role', 'user', '--data-dir', dataDir]);
    assert.equal(r.code, 0, r.stderr);
    server = await TestServer.start({ dataDir, settings: ACCOUNTS_ON });
  });
  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('without a login the first call fails with the GetNewSession refusal', async () => {
    const c = client();
    assert.deepEqual(errorParts(await refusal(c.getMyUserData())), {
      message: 'You are not logged in, or your login has expired.',
      errorId: null,
      status: 200,
      route: 'GetNewSession',
      body: { error: 'You are not logged in, or your login has expired.' },
    });
    assert.equal(c.sessionId, null);
  });

  test('a wrong password is thrown with error_id invalid_login, status 200 and no text', async () => {
    const c = client();
    assert.deepEqual(errorParts(await refusal(c.login('alice', 'wrong password'))), {
      message: 'invalid_login',
      errorId: 'invalid_login',
      status: 200,
      route: 'Login',
      body: { error_id: 'invalid_login' },
    });
    assert.equal(c.token, null);
  });

  test('register, log in (prehashed like the login page), use the login for sessions, manage tokens, change the password, log out', async () => {
    const c = client();
    assert.deepEqual(await c.registerBasic('Bob_1', 'bob password'), { success: 'true' });
    assert.deepEqual(await c.login('bob_1', 'bob password'), { success: 'true' });
    assert.match(c.token ?? '', /^[0-9a-f]+\.[0-9a-f]{32}\./);
    const session = await c.getNewSession();
    assert.equal(session.user_id, 'bob_1');
    assert.equal((await c.getMyUserData()).user_name, 'bob_1');
    const made = await c.createAuthToken({ reason: 'client test' });
    const listed = await c.listMyAuthTokens();
    assert.deepEqual(
      listed.tokens.map((t) => [t.user_agent, t.is_current]),
      [
        ['node', true],
        ['client test', false],
      ],
    );
    // The token CreateAuthToken gave works on its own, in another client.
    const byToken = new SwarmClient({ baseUrl: server.url, token: made.token });
    assert.equal((await byToken.getMyUserData()).user_name, 'bob_1');
    assert.deepEqual(await c.revokeMyAuthToken({ tokenId: listed.tokens[1]!.id }), { success: true });
    assert.equal((await refusal(byToken.getMyUserData())).message, 'You are not logged in, or your login has expired.');
    assert.deepEqual(await c.changePassword({ oldPassword: await prehashPassword('bob_1', 'bob password'), newPassword: await prehashPassword('bob_1', 'a better password') }), { success: true });
    assert.deepEqual(await c.logout(), { success: 'true' });
    assert.equal(c.token, null);
    assert.equal(c.sessionId, null);
    assert.equal((await refusal(c.getMyUserData())).route, 'GetNewSession');
    await c.login('bob_1', 'a better password');
    assert.equal((await c.getMyUserData()).user_name, 'bob_1');
    for (const r of ['RegisterBasic', 'Login', 'GetNewSession', 'CreateAuthToken', 'ListMyAuthTokens', 'RevokeMyAuthToken', 'ChangePassword', 'Logout']) succeeded.add(r);
  });

  test("the README's client example runs against a live server", async () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const code = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Calling it from TypeScript')))?.[1];
    assert.ok(code, 'the Calling it from TypeScript section has a ts code block');
    const source = code.replace("from 'swarmcore/client'", `from ${JSON.stringify(path.join(CLIENT_DIR, 'index.ts'))}`).replace("'http://127.0.0.1:7801'", JSON.stringify(server.url));
    const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-readme-client-'));
    try {
      const file = path.join(dir, 'example.mts');
      writeFileSync(file, source);
      const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const proc = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
        proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
        proc.on('exit', (exit) => resolve({ code: exit, out }));
      });
      assert.equal(run.code, 0, run.out);
      assert.equal(run.out, 'alice: Portrait (steps 30)\nrefused: No such language. (error_id null, HTTP 200)\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('OpenID Connect sign-in routes (a real provider on localhost)', () => {
  let server: TestServer;
  let provider: TestProvider;
  before(async () => {
    provider = await startProvider();
    server = await TestServer.start({
      settings: registrationSettings(provider, 'client-test-secret-0123456789'),
    });
    acceptServer(provider, server.url, 'client-test-secret-0123456789');
  });
  const client = (): SwarmClient => new SwarmClient({ baseUrl: server.url, WebSocket });
  after(async () => {
    await server.close();
    await provider.close();
  });

  test('RegisterOAuth with the tracker key of a provider sign-in, AdminSetUserOAuthEmail, GetMyOAuthLink and UnlinkMyOAuth', async () => {
    const jar = new CookieJar();
    const start = await request(`${server.url}/OAuth/Start/oidc`, jar);
    const back = await request(await signInAtProvider(start.headers.get('location')!, 'olga@example.com'), jar);
    const key = /name="oauth_tracker_key" value="([0-9a-f]{64})"/.exec(await back.text())![1]!;
    assert.deepEqual(await client().registerOAuth({ username: 'olga', oauth_tracker_key: key, oauth_type: 'oidc' }), { success: 'true' });
    const local = new SwarmClient({ baseUrl: server.url, WebSocket });
    assert.deepEqual(await local.adminAddUser({ name: 'olaf', password: await prehashPassword('olaf', 'olaf password'), role: 'user' }), { success: true });
    assert.deepEqual(await local.adminSetUserOAuthEmail({ name: 'olaf', email: 'olaf@example.com' }), { success: true });
    assert.equal((await local.adminGetUserInfo({ name: 'olga' })).oauth_email, 'olga@example.com');
    const olaf = client();
    assert.deepEqual(await olaf.login('olaf', 'olaf password'), { success: 'true' });
    const link = await olaf.getMyOAuthLink();
    assert.deepEqual([link.email, link.provider, link.has_password, link.providers], ['olaf@example.com', 'admin', true, [{ id: 'oidc', name: 'single sign-on' }]]);
    assert.deepEqual(await olaf.unlinkMyOAuth(), { success: true });
    assert.equal((await olaf.getMyOAuthLink()).email, '');
    for (const r of ['RegisterOAuth', 'AdminSetUserOAuthEmail', 'GetMyOAuthLink', 'UnlinkMyOAuth']) succeeded.add(r);
  });
});

test('every built-in route was called through its generated method and succeeded', () => {
  assert.deepEqual(
    BUILT_IN_ROUTES.map((r) => r.name).filter((name) => !succeeded.has(name)),
    [],
  );
});
