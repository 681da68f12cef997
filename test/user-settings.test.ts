// User settings over HTTP (docs/COMPATIBILITY.md#user-settings): the GetUserSettings format, conversions,
// all-or-none changes, server defaults from DefaultUser.*, and what is stored.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { queryStore } from './helpers/database.js';
import { TestServer } from './helpers/server.js';

let server: TestServer;
before(async () => {
  server = await TestServer.start({ settings: { 'DefaultUser.FileFormat.ImageFormat': 'JPG', 'DefaultUser.MaxPromptLines': 3, 'DefaultUser.Theme': 'solarized' } });
});
after(() => server.close());

let userCount = 0;
async function freshUser(): Promise<{ id: string; sid: string }> {
  const id = `settingsuser${++userCount}`;
  return { id, sid: await server.session({ 'X-SWARM-USER_ID': id }) };
}

type Meta = { type: string; name: string; value: unknown; description: string; values: string[] | null; value_names: string[] | null; is_secret: boolean; default_value?: unknown };

async function settingsOf(sid: string): Promise<Record<string, Meta>> {
  const res = await server.call('GetUserSettings', sid);
  assert.equal(res.status, 200);
  return res.body.settings as Record<string, Meta>;
}

/** Leaves of the tree by dotted id, as the web UI flattens it. */
function flatten(tree: Record<string, Meta>, prefix = '', out: Record<string, Meta> = {}): Record<string, Meta> {
  for (const [k, m] of Object.entries(tree)) {
    if (m.type === 'group') flatten(m.value as Record<string, Meta>, `${prefix}${k}.`, out);
    else out[prefix + k] = m;
  }
  return out;
}

async function storedSettings(userId: string): Promise<unknown> {
  const [row] = await queryStore(server.dataDir, 'SELECT settings FROM users WHERE id = ?', [userId]);
  return JSON.parse(String(row!.settings));
}

describe('GetUserSettings', () => {
  test('lists the top-level settings in the reference order, with roles left out', async () => {
    const u = await freshUser();
    assert.deepEqual(Object.keys(await settingsOf(u.sid)), [
      'outpathbuilder', 'fileformat', 'ui', 'paramparsing', 'savefiles', 'starnofolders', 'theme', 'centerimagealwaysgrow',
      'autoswapimagesincludesfullview', 'buttonsundermainimages', 'imagemetadataformat', 'resetbatchsizetoone', 'hintformat',
      'hoverdelayseconds', 'maxpromptlines', 'vaes', 'maximagesinminigrid', 'maximagesinhistory', 'maximagesscannedinhistory',
      'imagehistoryusepreviews', 'maxsimulpreviews', 'enterkeygenerates', 'generateforeverdelay', 'generateforeverqueuesize',
      'parametermemorydurationhours', 'language', 'reuseparamexcludelist', 'audio', 'autocomplete',
    ]);
  });

  test('a group and its leaves have the exact metadata shape, keys in order', async () => {
    const u = await freshUser();
    const settings = await settingsOf(u.sid);
    const group = settings.paramparsing!;
    assert.deepEqual(Object.keys(group), ['type', 'name', 'value', 'description', 'values', 'value_names', 'is_secret']);
    assert.deepEqual({ ...group, description: '' }, {
      type: 'group', name: 'ParamParsing', description: '', values: null, value_names: null, is_secret: false,
      value: { allowlorastacking: { type: 'boolean', name: 'AllowLoraStacking', value: true, description: (group.value as Record<string, Meta>).allowlorastacking!.description, values: null, value_names: null, is_secret: false, default_value: true } },
    });
    const leaf = (settings.fileformat!.value as Record<string, Meta>).imageformat!;
    assert.deepEqual(Object.keys(leaf), ['type', 'name', 'value', 'description', 'values', 'value_names', 'is_secret', 'default_value']);
    assert.deepEqual({ ...leaf, description: '' }, {
      type: 'dropdown', name: 'ImageFormat', value: 'JPG', description: '', values: ['PNG', 'JPG', 'WEBP_LOSSLESS', 'WEBP'], value_names: ['PNG', 'JPG', 'WEBP_LOSSLESS', 'WEBP'], is_secret: false, default_value: 'PNG',
    });
    assert.ok(leaf.description.length > 10);
  });

  test('theme options are the registered themes and language options the shipped language codes', async () => {
    const u = await freshUser();
    const res = await server.call('GetUserSettings', u.sid);
    const themes = res.body.themes as Record<string, { name: string; is_dark: boolean; css_paths: string[] }>;
    assert.deepEqual(themes.ctp_latte, { name: 'Catppuccin Latte', is_dark: false, css_paths: ['css/themes/modern.css', 'css/themes/ctp_latte.css'] });
    const settings = res.body.settings as Record<string, Meta>;
    assert.deepEqual(settings.theme!.values, Object.keys(themes));
    assert.deepEqual(settings.theme!.value_names, Object.values(themes).map((t) => t.name));
    assert.equal(settings.theme!.value, 'solarized');
    assert.equal(settings.theme!.default_value, 'modern_dark');
    assert.ok(settings.language!.values!.includes('de') && settings.language!.values!.includes('en') && settings.language!.values!.includes('fr'));
    assert.deepEqual(settings.language!.values, [...settings.language!.values!].sort());
    assert.deepEqual(settings.vaes!.value && (settings.vaes!.value as Record<string, Meta>).defaultsdxlvae, {
      type: 'dropdown', name: 'DefaultSDXLVAE', value: 'None', description: (settings.vaes!.value as Record<string, Meta>).defaultsdxlvae!.description, values: ['None'], value_names: ['None'], is_secret: false, default_value: 'None',
    });
  });
});

describe('ChangeUserSettings', () => {
  test('every setting accepts a value of its own type and GetUserSettings shows it', async () => {
    const u = await freshUser();
    const leaves = flatten(await settingsOf(u.sid));
    const good: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const [id, m] of Object.entries(leaves)) {
      const [send, shown] =
        m.type === 'integer' ? ['17', 17]
        : m.type === 'decimal' ? [0.25, 0.25]
        : m.type === 'boolean' ? [m.value === true ? 'FALSE' : true, m.value !== true]
        : m.type === 'dropdown' ? [m.values![m.values!.length - 1], m.values![m.values!.length - 1]]
        : ['some text', 'some text'];
      good[id.toUpperCase()] = send;
      expected[id] = shown;
    }
    assert.deepEqual((await server.call('ChangeUserSettings', u.sid, { settings: good })).body, { success: true });
    const after = flatten(await settingsOf(u.sid));
    for (const [id, value] of Object.entries(expected)) assert.deepEqual(after[id]!.value, value, id);
  });

  test('every setting refuses a value of the wrong type, naming the key, and nothing changes', async () => {
    const u = await freshUser();
    const before = flatten(await settingsOf(u.sid));
    for (const [id, m] of Object.entries(before)) {
      const bad = m.type === 'integer' ? 'seven' : m.type === 'decimal' ? 'abc' : m.type === 'boolean' ? 'maybe' : { not: 'text' };
      const res = await server.call('ChangeUserSettings', u.sid, { settings: { [id]: bad } });
      assert.equal(res.status, 200);
      assert.equal(typeof res.body.error, 'string', id);
      assert.ok((res.body.error as string).includes(`'${id}'`), `${id}: ${String(res.body.error)}`);
    }
    assert.deepEqual(flatten(await settingsOf(u.sid)), before);
    assert.deepEqual(await storedSettings(u.id), {});
  });

  test('one bad value among good ones changes nothing', async () => {
    const u = await freshUser();
    const res = await server.call('ChangeUserSettings', u.sid, { settings: { theme: 'modern_light', 'fileformat.imagequality': 50, 'UI.DeleteImageBehavior': 'nope', maxpromptlines: 4 } });
    assert.equal(res.body.error, "The setting 'UI.DeleteImageBehavior' must be one of: nothing, next, previous; \"nope\" is not.");
    assert.deepEqual(await storedSettings(u.id), {});
    assert.equal((await settingsOf(u.sid)).theme!.value, 'solarized');
  });

  test('conversions: numbers round half to even, booleans take numbers and text, texts take numbers and booleans', async () => {
    const u = await freshUser();
    const res = await server.call('ChangeUserSettings', u.sid, {
      settings: { maxpromptlines: 2.5, maximagesinminigrid: '3.5', savefiles: 0, enterkeygenerates: ' True ', buttonsundermainimages: 12.5, reuseparamexcludelist: false, hoverdelayseconds: '1e-1' },
    });
    assert.deepEqual(res.body, { success: true });
    assert.deepEqual(await storedSettings(u.id), { maxpromptlines: 2, maximagesinminigrid: 4, savefiles: false, enterkeygenerates: true, buttonsundermainimages: '12.5', reuseparamexcludelist: 'false', hoverdelayseconds: 0.1 });
  });

  test('unknown ids, restricted roles, group ids and null for a text setting are skipped and named; the rest is applied', async () => {
    const u = await freshUser();
    const res = await server.call('ChangeUserSettings', u.sid, {
      settings: { nosuchsetting: 1, Roles: 'owner', theme: 'beweish', ui: {}, 'ui.nothing': 'x', buttonsundermainimages: null, 'autocomplete.source': null, maxpromptlines: 7 },
    });
    assert.equal(
      res.text,
      '{"success":true,"skipped":[{"id":"nosuchsetting","reason":"unknown"},{"id":"Roles","reason":"restricted"},{"id":"ui","reason":"group"},{"id":"ui.nothing","reason":"unknown"},{"id":"buttonsundermainimages","reason":"null"},{"id":"autocomplete.source","reason":"null"}]}',
    );
    assert.deepEqual(await storedSettings(u.id), { theme: 'beweish', maxpromptlines: 7 });
    // Nothing skipped: the reference's exact answer.
    assert.equal((await server.call('ChangeUserSettings', u.sid, { settings: { theme: 'punked' } })).text, '{"success":true}');
    // Only skipped entries: success, nothing stored.
    assert.deepEqual((await server.call('ChangeUserSettings', u.sid, { settings: { roles: ['admin'] } })).body, { success: true, skipped: [{ id: 'roles', reason: 'restricted' }] });
    assert.deepEqual(await storedSettings(u.id), { theme: 'punked', maxpromptlines: 7 });
  });

  test('a value of the wrong type still refuses the whole call, skipped entries included, and nothing changes', async () => {
    const u = await freshUser();
    const res = await server.call('ChangeUserSettings', u.sid, { settings: { roles: 'owner', theme: 'beweish', maxpromptlines: null } });
    assert.deepEqual(res.body, { error: "The setting 'maxpromptlines' takes a whole number, not null." });
    assert.deepEqual(await storedSettings(u.id), {});
  });

  test('an integer longer than a double holds keeps its digits: a text setting stores them, a whole-number setting quotes them', async () => {
    const u = await freshUser();
    const res = await server.api('ChangeUserSettings', `{"session_id":"${u.sid}","settings":{"buttonsundermainimages":12345678901234567890123,"reuseparamexcludelist":9007199254740993}}`);
    assert.equal(res.text, '{"success":true}');
    assert.deepEqual(await storedSettings(u.id), { buttonsundermainimages: '12345678901234567890123', reuseparamexcludelist: '9007199254740993' });
    const refused = await server.api('ChangeUserSettings', `{"session_id":"${u.sid}","settings":{"maxpromptlines":9223372036854775807}}`);
    assert.deepEqual(refused.body, { error: "The setting 'maxpromptlines' takes a whole number within ±2147483647, not 9223372036854775807." });
    const array = await server.api('ChangeUserSettings', `{"session_id":"${u.sid}","settings":{"theme":[9007199254740993]}}`);
    assert.deepEqual(array.body, { error: "The setting 'theme' takes a text, not [9007199254740993]." });
  });

  test('settings missing or not an object gets a clear error naming it', async () => {
    const u = await freshUser();
    const cases: [unknown, string][] = [
      [undefined, "Missing required parameter 'settings'"],
      [null, "Invalid value null for parameter 'settings', must be a JSON object ('JObject')"],
      [[], "Invalid value '[]' for parameter 'settings', must be a JSON object ('JObject')"],
      ['theme=x', "Invalid value 'theme=x' for parameter 'settings', must be a JSON object ('JObject')"],
      [3, "Invalid value '3' for parameter 'settings', must be a JSON object ('JObject')"],
    ];
    for (const [settings, error] of cases) {
      const body: Record<string, unknown> = {};
      if (settings !== undefined) body.settings = settings;
      assert.deepEqual((await server.call('ChangeUserSettings', u.sid, body)).body, { error });
    }
  });

  test('the stored record keeps only what the user changed; the rest follows the server defaults', async () => {
    const u = await freshUser();
    const before = await settingsOf(u.sid);
    assert.equal((before.fileformat!.value as Record<string, Meta>).imageformat!.value, 'JPG');
    assert.equal(before.maxpromptlines!.value, 3);
    await server.call('ChangeUserSettings', u.sid, { settings: { 'FileFormat.ImageFormat': 'WEBP', theme: 'solarized' } });
    // A value equal to the server default is still the user's own choice from now on.
    assert.deepEqual(await storedSettings(u.id), { 'fileformat.imageformat': 'WEBP', theme: 'solarized' });
    const after = await settingsOf(u.sid);
    assert.equal((after.fileformat!.value as Record<string, Meta>).imageformat!.value, 'WEBP');
    assert.equal(after.maxpromptlines!.value, 3);
  });

  test("two users' settings never mix", async () => {
    const a = await freshUser();
    const b = await freshUser();
    await server.call('ChangeUserSettings', a.sid, { settings: { theme: 'punked', language: 'de' } });
    assert.equal((await settingsOf(b.sid)).theme!.value, 'solarized');
    assert.equal((await server.call('GetMyUserData', b.sid, {}, { 'X-SWARM-USER_ID': b.id })).body.language, 'en');
    assert.equal((await server.call('GetMyUserData', a.sid, {}, { 'X-SWARM-USER_ID': a.id })).body.language, 'de');
  });

  test('language must be a shipped code and theme a registered one', async () => {
    const u = await freshUser();
    assert.match(String((await server.call('ChangeUserSettings', u.sid, { settings: { language: '../en' } })).body.error), /^The setting 'language' must be one of: /);
    assert.match(String((await server.call('ChangeUserSettings', u.sid, { settings: { theme: 'Modern_Dark' } })).body.error), /^The setting 'theme' must be one of: modern_dark, /);
  });
});

describe('SetParamEdits', () => {
  test('stores the edits object verbatim as compact JSON', async () => {
    const u = await freshUser();
    const edits = { groups: { sampling: { open: true, advanced: false, priority: -5 } }, params: { steps: { visible: false, examples: 'a || b', min: 1.5 } } };
    assert.deepEqual((await server.call('SetParamEdits', u.sid, { edits })).body, { success: true });
    const [row] = await queryStore(server.dataDir, 'SELECT param_edits FROM users WHERE id = ?', [u.id]);
    assert.equal(row!.param_edits, JSON.stringify(edits));
  });

  test('edits missing or not an object gets a clear error naming it', async () => {
    const u = await freshUser();
    const cases: [unknown, string][] = [
      [undefined, "Missing required parameter 'edits'"],
      [null, "Invalid value null for parameter 'edits', must be a JSON object ('JObject')"],
      [[], "Invalid value '[]' for parameter 'edits', must be a JSON object ('JObject')"],
      ['x', "Invalid value 'x' for parameter 'edits', must be a JSON object ('JObject')"],
    ];
    for (const [edits, error] of cases) {
      const body: Record<string, unknown> = {};
      if (edits !== undefined) body.edits = edits;
      assert.deepEqual((await server.call('SetParamEdits', u.sid, body)).body, { error });
    }
  });
});
