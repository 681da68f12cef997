// GetMyUserData, starred models, autocompletions, languages and debug messages over HTTP, plus restart persistence
// and isolation of everything the user-data routes write (docs/COMPATIBILITY.md#api-keys-and-generic-data,
// docs/COMPATIBILITY.md#autocompletions, docs/COMPATIBILITY.md#languages,
// docs/COMPATIBILITY.md#debug-messages-and-parameter-edits).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import jpeg from 'jpeg-js';
import { ROOT, TestServer, eventually } from './helpers/server.js';

let server: TestServer;
let sid: string;
before(async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-userdata-'));
  mkdirSync(path.join(dataDir, 'Autocompletions', 'sub'), { recursive: true });
  writeFileSync(path.join(dataDir, 'Autocompletions', 'tags.csv'), '# a comment\r\nblue_hair,0,1234,"bluehair,blue hair"\ncat_(animal),55\n\n  dog  \n');
  writeFileSync(path.join(dataDir, 'Autocompletions', 'sub', 'words.txt'), 'alpha\nbeta gamma\n');
  mkdirSync(path.join(dataDir, 'languages'));
  writeFileSync(path.join(dataDir, 'languages', 'zz.json'), JSON.stringify({ name_en: 'Test', name_local: 'Tëst', keys: { Generate: 'Gen!' } }));
  writeFileSync(path.join(dataDir, 'languages', 'fr.json'), JSON.stringify({ name_en: 'French', name_local: 'Français (local)', keys: {} }));
  writeFileSync(path.join(dataDir, 'languages', 'broken.json'), '{"name_en": "Broken", "keys": {}}');
  server = await TestServer.start({ dataDir, args: ['--log-level', 'info'] });
  sid = await server.session();
});
after(() => server.close());

let userCount = 0;
async function freshUser(): Promise<{ id: string; sid: string; headers: Record<string, string> }> {
  const id = `datauser${++userCount}`;
  const headers = { 'X-SWARM-USER_ID': id };
  return { id, sid: await server.session(headers), headers };
}

describe('GetMyUserData', () => {
  test('a new user gets exactly the reference fields in order, with empty data and no autocompletions', async () => {
    const u = await freshUser();
    const permissions = (await server.api('GetNewSession', {}, u.headers)).body.permissions;
    const res = await server.call('GetMyUserData', u.sid, {}, u.headers);
    assert.equal(res.text, JSON.stringify({ user_name: u.id, presets: [], language: 'en', permissions, starred_models: {}, model_preset_links: {}, autocompletions: null }));
  });

  test('the preset list is sent as exactly the JSON of the presets, and a repeated call or an edit gives the list as it now is', async () => {
    const u = await freshUser();
    const params = { prompt: 'a "quoted" prompt \u2028 with a line separator', steps: '20' };
    assert.deepEqual((await server.call('AddNewPreset', u.sid, { title: 'One', description: 'first', param_map: params }, u.headers)).body, { success: true });
    assert.deepEqual((await server.call('AddNewPreset', u.sid, { title: 'Two', description: 'second', param_map: {} }, u.headers)).body, { success: true });
    const permissions = (await server.api('GetNewSession', {}, u.headers)).body.permissions;
    const expected = (presets: unknown[]): string => JSON.stringify({ user_name: u.id, presets, language: 'en', permissions, starred_models: {}, model_preset_links: {}, autocompletions: null });
    const preset = (title: string, description: string, paramMap: Record<string, string>) => ({ author: u.id, title, description, preview_image: 'imgs/model_placeholder.jpg', is_starred: false, param_map: paramMap });
    const first = await server.call('GetMyUserData', u.sid, {}, u.headers);
    assert.equal(first.text, expected([preset('One', 'first', params), preset('Two', 'second', {})]));
    assert.equal((await server.call('GetMyUserData', u.sid, {}, u.headers)).text, first.text);
    assert.deepEqual((await server.call('AddNewPreset', u.sid, { title: 'One', description: 'edited', param_map: { steps: '30' }, is_edit: true, editing: 'One' }, u.headers)).body, { success: true });
    assert.equal((await server.call('GetMyUserData', u.sid, {}, u.headers)).text, expected([preset('One', 'edited', { steps: '30' }), preset('Two', 'second', {})]));
  });

  test('a repeated answer is kept, and every change behind it shows at the next call: role, server default, own language, stars, links, presets', async () => {
    assert.deepEqual((await server.call('AdminAddRole', sid, { name: 'keptanswer' })).body, { success: true });
    assert.deepEqual((await server.call('AdminAddUser', sid, { name: 'keptuser', password: 'a-long-enough-prehash', role: 'keptanswer' })).body, { success: true });
    const headers = { 'X-SWARM-USER_ID': 'keptuser' };
    const usid = await server.session(headers);
    const data = async (): Promise<Record<string, unknown>> => {
      const first = await server.call('GetMyUserData', usid, {}, headers);
      // The second call is answered from what the first kept, with exactly the same text.
      assert.equal((await server.call('GetMyUserData', usid, {}, headers)).text, first.text);
      return first.body;
    };
    const editRole = (permissions: string) =>
      server.call('AdminEditRole', sid, { name: 'keptanswer', description: '', max_outpath_depth: 5, max_t2i_simultaneous: 32, allow_unsafe_outpaths: false, model_whitelist: '', model_blacklist: '', permissions });
    assert.deepEqual((await editRole('fundamental_generate_tab_access,fundamental_model_access,edit_user_settings,manage_presets')).body, { success: true });
    assert.deepEqual((await data()).permissions, ['fundamental_model_access', 'fundamental_generate_tab_access', 'edit_user_settings', 'manage_presets']);
    await editRole('fundamental_generate_tab_access,fundamental_model_access,edit_user_settings,manage_presets,user_tab');
    assert.deepEqual((await data()).permissions, ['fundamental_model_access', 'fundamental_generate_tab_access', 'edit_user_settings', 'manage_presets', 'user_tab']);
    assert.equal((await data()).language, 'en');
    assert.deepEqual((await server.call('ChangeServerSettings', sid, { settings: { 'DefaultUser.Language': 'de' } })).body, { success: true });
    try {
      assert.equal((await data()).language, 'de');
      assert.deepEqual((await server.call('ChangeUserSettings', usid, { settings: { language: 'fr' } }, headers)).body, { success: true });
      assert.equal((await data()).language, 'fr');
    } finally {
      await server.call('ChangeServerSettings', sid, { settings: { 'DefaultUser.Language': 'en' } });
    }
    assert.deepEqual((await server.call('SetStarredModels', usid, { LoRA: ['kept.safetensors'] }, headers)).body, { success: true });
    assert.deepEqual((await data()).starred_models, { LoRA: ['kept.safetensors'] });
    assert.deepEqual((await server.call('SetPresetLinks', usid, { 'Stable-Diffusion': { 'm.safetensors': ['Kept'] } }, headers)).body, { success: true });
    assert.deepEqual((await data()).model_preset_links, { 'Stable-Diffusion': { 'm.safetensors': ['Kept'] } });
    assert.deepEqual((await server.call('AddNewPreset', usid, { title: 'Kept', description: 'one', param_map: { steps: '20' } }, headers)).body, { success: true });
    assert.deepEqual(((await data()).presets as Array<{ title: string }>).map((p) => p.title), ['Kept']);
  });

  test('SetStarredModels replaces the whole map, without the session id the client adds', async () => {
    const u = await freshUser();
    assert.deepEqual((await server.call('SetStarredModels', u.sid, { LoRA: ['a.safetensors'], 'Stable-Diffusion': ['x/y.safetensors'] })).body, { success: true });
    assert.deepEqual((await server.call('GetMyUserData', u.sid)).body.starred_models, { LoRA: ['a.safetensors'], 'Stable-Diffusion': ['x/y.safetensors'] });
    await server.call('SetStarredModels', u.sid, { VAE: [] });
    assert.deepEqual((await server.call('GetMyUserData', u.sid)).body.starred_models, { VAE: [] });
  });

  test('autocompletions come from the chosen data-dir file, with spacing, suffix and parenthesis escaping', async () => {
    const u = await freshUser();
    await server.call('ChangeUserSettings', u.sid, { settings: { 'autocomplete.source': 'tags.csv', 'autocomplete.suffix': ', ', 'autocomplete.spacingmode': 'Spaces' } });
    assert.deepEqual((await server.call('GetMyUserData', u.sid)).body.autocompletions, [
      'blue hair, \nblue_hair\n0\n1234\nbluehair,blue hair',
      'cat \\(animal\\), \ncat_(animal)\n0\n55\n',
      'dog, \ndog',
    ]);
    await server.call('ChangeUserSettings', u.sid, { settings: { 'autocomplete.source': 'sub/words.txt', 'autocomplete.suffix': '', 'autocomplete.spacingmode': 'Underscores', 'autocomplete.escapeparens': false } });
    assert.deepEqual((await server.call('GetMyUserData', u.sid)).body.autocompletions, ['alpha\nalpha', 'beta_gamma\nbeta gamma']);
  });

  test('the autocompletion source options list the data-dir files', async () => {
    const settings = (await server.call('GetUserSettings', sid)).body.settings as Record<string, { value: Record<string, { values: string[] }> }>;
    assert.deepEqual(settings.autocomplete!.value.source!.values, ['', 'sub/words.txt', 'tags.csv']);
  });

  test('a missing file, a path outside the folder or a blank source give null, never [null]', async () => {
    const u = await freshUser();
    for (const source of ['gone.txt', '../languages/zz.json', '/etc/passwd', 'sub/../tags.csv', ' ']) {
      assert.deepEqual((await server.call('ChangeUserSettings', u.sid, { settings: { 'autocomplete.source': source } })).body, { success: true });
      const res = await server.call('GetMyUserData', u.sid);
      assert.equal(res.body.autocompletions, null, source);
    }
  });
});

describe('GetLanguage', () => {
  test('English lists every UI text with empty translations, in the reference shape', async () => {
    const file = JSON.parse(readFileSync(path.join(ROOT, 'languages', 'en.json'), 'utf8')) as { keys: Record<string, string> };
    const res = await server.call('GetLanguage', sid, { language: 'en' });
    assert.deepEqual(res.body, { language: { code: 'en', name: 'English', local_name: 'English', keys: file.keys } });
    assert.ok(Object.values(file.keys).every((v) => v === ''));
  });

  test('German is served with its names and real translations', async () => {
    const res = await server.call('GetLanguage', sid, { language: 'de' });
    const lang = res.body.language as { code: string; name: string; local_name: string; keys: Record<string, string> };
    assert.deepEqual([lang.code, lang.name, lang.local_name, lang.keys.Generate], ['de', 'German', 'Deutsch', 'Generieren']);
  });

  test('data-dir files add languages and replace shipped ones; a file missing a required field is skipped', async () => {
    assert.deepEqual((await server.call('GetLanguage', sid, { language: 'zz' })).body, { language: { code: 'zz', name: 'Test', local_name: 'Tëst', keys: { Generate: 'Gen!' } } });
    assert.equal(((await server.call('GetLanguage', sid, { language: 'fr' })).body.language as { local_name: string }).local_name, 'Français (local)');
    assert.deepEqual((await server.call('GetLanguage', sid, { language: 'broken' })).body, { error: 'No such language.' });
    assert.match(server.output, /language file skipped: name_en and name_local must be strings/);
  });

  test('unknown codes, other letter case and path tricks get "No such language."', async () => {
    for (const language of ['xx', 'EN', 'en.json', '../en', '../../languages/en', '/etc/passwd', 'languages/en', '', '__proto__', 'constructor']) {
      assert.deepEqual((await server.call('GetLanguage', sid, { language })).body, { error: 'No such language.' }, language);
    }
  });
});

describe('ServerDebugMessage', () => {
  async function logged(since: number): Promise<Record<string, unknown>> {
    let line: Record<string, unknown> | undefined;
    const found = await eventually(async () => {
      line = server.output
        .slice(since)
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((e) => e.debugMessage === true);
      return line !== undefined;
    });
    assert.ok(found && line, 'no debug message logged');
    return line;
  }

  test("logs the user's id with control characters escaped, so one message cannot forge another log line", async () => {
    const since = server.output.length;
    const res = await server.call('ServerDebugMessage', sid, { message: 'Error: boom\nurl: x\r\n{"level":50,"msg":"forged"}\u0007\u2028' });
    assert.deepEqual(res.body, { success: true });
    const entry = await logged(since);
    assert.equal(entry.userId, 'local');
    assert.equal(entry.level, 30);
    assert.equal(entry.msg, `User 'local' sent a debug message: Error: boom\\nurl: x\\r\\n{"level":50,"msg":"forged"}\\u0007\\u2028`);
  });

  test('long messages are cut at 10,000 characters', async () => {
    const since = server.output.length;
    await server.call('ServerDebugMessage', sid, { message: 'y'.repeat(25_000) });
    const entry = await logged(since);
    assert.equal(entry.msg, `User 'local' sent a debug message: ${'y'.repeat(10_000)}... (15000 more characters)`);
  });

  test('an ordinary user lacks the permission', async () => {
    const u = await freshUser();
    const res = await server.call('ServerDebugMessage', u.sid, { message: 'hi' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error_id, 'bad_permissions');
  });
});

describe('isolation and persistence', () => {
  function jpegDataUrl(): string {
    const data = Buffer.alloc(32 * 32 * 4, 200);
    return 'data:image/jpeg;base64,' + jpeg.encode({ data, width: 32, height: 32 }, 90).data.toString('base64');
  }

  async function writeEverything(s: TestServer, session: string): Promise<void> {
    const ok = { success: true };
    assert.deepEqual((await s.call('AddNewPreset', session, { title: 'Kept', description: 'd', param_map: { steps: 20 }, preview_image: jpegDataUrl() })).body, ok);
    assert.deepEqual((await s.call('AddNewPreset', session, { title: 'Also', description: '', param_map: {} })).body, ok);
    assert.deepEqual((await s.call('DuplicatePreset', session, { preset: 'kept' })).body, ok);
    assert.deepEqual((await s.call('ChangeUserSettings', session, { settings: { theme: 'ctp_mocha', 'fileformat.imagequality': 80, language: 'fr' } })).body, ok);
    assert.deepEqual((await s.call('SetParamEdits', session, { edits: { params: { steps: { visible: false } } } })).body, ok);
    assert.deepEqual((await s.call('SetStarredModels', session, { LoRA: ['z.safetensors'] })).body, ok);
    assert.deepEqual((await s.call('SetPresetLinks', session, { LoRA: { 'z.safetensors': ['Kept'] } })).body, ok);
    assert.deepEqual((await s.call('SetAPIKey', session, { keyType: 'civitai_api', key: 'abc' })).body, ok);
  }

  async function readEverything(s: TestServer, session: string, headers: Record<string, string> = {}): Promise<unknown> {
    const data = (await s.call('GetMyUserData', session, {}, headers)).body;
    return {
      presets: (await s.call('ExportUserPresets', session, {}, headers)).body,
      settings: (await s.call('GetUserSettings', session, {}, headers)).body,
      language: data.language,
      starred: data.starred_models,
      links: data.model_preset_links,
      key: (await s.call('GetAPIKeyStatus', session, { keyType: 'civitai_api' }, headers)).body,
    };
  }

  test('two users never see each other’s presets, settings, stars, links or keys', async () => {
    const a = await freshUser();
    const b = await freshUser();
    const empty = await readEverything(server, b.sid, b.headers);
    await writeEverything(server, a.sid);
    assert.deepEqual(await readEverything(server, b.sid, b.headers), empty);
    assert.deepEqual((await server.call('DeletePreset', b.sid, { preset: 'Kept' })).body, { success: false });
    assert.deepEqual((await server.call('DuplicatePreset', b.sid, { preset: 'Kept' })).body, { preset_fail: 'No such preset.' });
  });

  test('everything written is still there after kill -9 and a restart', async () => {
    const first = await TestServer.start();
    const dataDir = first.dataDir;
    let second: TestServer | undefined;
    try {
      const session = await first.session();
      await writeEverything(first, session);
      assert.deepEqual((await first.call('ChangePassword', session, { oldPassword: '', newPassword: 'client-form-password' })).body, { success: true });
      const before = await readEverything(first, session);
      await first.stop('SIGKILL');
      second = await TestServer.start({ dataDir });
      const again = await second.session();
      assert.deepEqual(await readEverything(second, again), before);
      // The password survived too: changing it again needs the old one.
      assert.deepEqual((await second.call('ChangePassword', again, { oldPassword: 'wrong-password', newPassword: 'another-password' })).body, {
        error: 'The old password is not correct, so the password was not changed.',
      });
      assert.deepEqual((await second.call('ChangePassword', again, { oldPassword: 'client-form-password', newPassword: 'another-password' })).body, { success: true });
    } finally {
      await second?.stop();
      await first.close();
    }
  });
});
