// Presets over HTTP against the real server and store (docs/COMPATIBILITY.md#presets).
import assert from 'node:assert/strict';
import jpeg from 'jpeg-js';
import { after, before, describe, test } from 'node:test';
import { readExifText } from '../src/presets/exif.js';
import { postOnNewConnection } from './helpers/fresh-connection.js';
import { TestServer } from './helpers/server.js';

let server: TestServer;
let sid: string;
before(async () => {
  server = await TestServer.start();
  sid = await server.session();
});
after(() => server.close());

const PLACEHOLDER = 'imgs/model_placeholder.jpg';
const JPEG_PREFIX = 'data:image/jpeg;base64,';

function jpegDataUrl(width: number, height: number): string {
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < data.length; i += 4) {
    data[i] = (i / 4) % 256;
    data[i + 1] = 128;
    data[i + 2] = 64;
    data[i + 3] = 255;
  }
  return JPEG_PREFIX + jpeg.encode({ data, width, height }, 90).data.toString('base64');
}

/** A fresh session of its own user, so each test starts from an empty preset list. */
let userCount = 0;
async function freshUser(): Promise<{ sid: string; headers: Record<string, string> }> {
  const headers = { 'X-SWARM-USER_ID': `presetuser${++userCount}` };
  return { sid: await server.session(headers), headers };
}

const add = (session: string, body: Record<string, unknown>) => server.call('AddNewPreset', session, { description: '', param_map: {}, ...body });
const exported = async (session: string) => (await server.call('ExportUserPresets', session)).body.presets as Array<Record<string, unknown>>;
const titles = async (session: string) => (await exported(session)).map((p) => p.title);

describe('AddNewPreset', () => {
  test('cleans the title like a file name and stores every parameter as text', async () => {
    const u = await freshUser();
    const res = await add(u.sid, { title: ' /My.Preset//sub/ COM1 ', description: 'desc', param_map: { prompt: 'a cat', steps: 20, cfg: 7.5, hires: true, none: null, list: [1, 'x'] }, is_starred: true });
    assert.deepEqual(res.body, { success: true });
    assert.deepEqual(await exported(u.sid), [
      {
        author: 'presetuser1',
        title: 'MyPreset/sub/COM1_',
        description: 'desc',
        preview_image: PLACEHOLDER,
        is_starred: true,
        param_map: { prompt: 'a cat', steps: '20', cfg: '7.5', hires: 'true', none: '', list: '[1,"x"]' },
      },
    ]);
  });

  test('integers longer than a double holds are stored with the digits sent: title, description and param_map values', async () => {
    const u = await freshUser();
    const body = `{"session_id":"${u.sid}","title":98765432109876543210,"description":9007199254740993,"param_map":{"seed":18446744073709551615,"steps":20,"nested":[12345678901234567890]}}`;
    assert.equal((await server.api('AddNewPreset', body)).text, '{"success":true}');
    const [p] = await exported(u.sid);
    assert.equal(p!.title, '98765432109876543210');
    assert.equal(p!.description, '9007199254740993');
    assert.deepEqual(p!.param_map, { seed: '18446744073709551615', steps: '20', nested: '[12345678901234567890]' });
  });

  test('old parameter ids are shown renamed, moved to the end; where both ids are present the new one wins', async () => {
    const u = await freshUser();
    await add(u.sid, { title: 'old', param_map: { textvideofps: 24, prompt: 'p', saveintermediateimages: true, videoformat: 'webm', textvideoformat: 'gif' } });
    const [p] = await exported(u.sid);
    assert.deepEqual(Object.entries(p!.param_map as Record<string, string>), [['prompt', 'p'], ['videoformat', 'webm'], ['outputintermediateimages', 'true'], ['videofps', '24']]);
  });

  test('a title that cleans to nothing is refused', async () => {
    for (const title of ['', '...', ' / ', '?*<>']) {
      assert.deepEqual((await add(sid, { title })).body, { preset_fail: 'Invalid or empty title.' }, title);
    }
  });

  test('a title that exists in any letter case is refused and the stored preset is unchanged', async () => {
    const u = await freshUser();
    await add(u.sid, { title: 'Portrait', description: 'first' });
    assert.deepEqual((await add(u.sid, { title: 'PORTRAIT', description: 'second' })).body, { preset_fail: 'A preset with that title already exists.' });
    const [p] = await exported(u.sid);
    assert.equal(p!.title, 'Portrait');
    assert.equal(p!.description, 'first');
  });

  test('editing in place keeps the list position; renaming moves the preset to the end and frees the old title', async () => {
    const u = await freshUser();
    for (const title of ['a', 'b', 'c']) await add(u.sid, { title });
    assert.deepEqual((await add(u.sid, { title: 'a', description: 'changed', is_edit: true, editing: 'a' })).body, { success: true });
    assert.deepEqual(await titles(u.sid), ['a', 'b', 'c']);
    assert.equal((await exported(u.sid))[0]!.description, 'changed');
    assert.deepEqual((await add(u.sid, { title: 'b2', is_edit: true, editing: 'B' })).body, { success: true });
    assert.deepEqual(await titles(u.sid), ['a', 'c', 'b2']);
    assert.deepEqual((await add(u.sid, { title: 'b' })).body, { success: true });
  });

  test('a rename that only changes letter case moves the preset to the end, like any rename', async () => {
    const u = await freshUser();
    for (const title of ['Alpha', 'Gamma', 'Omega']) await add(u.sid, { title, description: title });
    assert.deepEqual((await add(u.sid, { title: 'GAMMA', description: 'renamed', is_edit: true, editing: 'Gamma' })).body, { success: true });
    assert.deepEqual((await exported(u.sid)).map((p) => [p.title, p.description]), [['Alpha', 'Alpha'], ['Omega', 'Omega'], ['GAMMA', 'renamed']]);
    // `editing` exactly the new title is an edit in place.
    assert.deepEqual((await add(u.sid, { title: 'Alpha', description: 'edited', is_edit: true, editing: 'Alpha' })).body, { success: true });
    assert.deepEqual(await titles(u.sid), ['Alpha', 'Omega', 'GAMMA']);
  });

  test('renaming onto the title of another preset is refused and both presets stay as they were', async () => {
    const u = await freshUser();
    await add(u.sid, { title: 'one', description: '1' });
    await add(u.sid, { title: 'two', description: '2' });
    assert.deepEqual((await add(u.sid, { title: 'TWO', description: 'x', is_edit: true, editing: 'one' })).body, { preset_fail: 'A preset with that title already exists.' });
    assert.deepEqual((await exported(u.sid)).map((p) => [p.title, p.description]), [['one', '1'], ['two', '2']]);
  });

  test('is_edit with an unknown or missing `editing` adds a new preset, with the exists check', async () => {
    const u = await freshUser();
    assert.deepEqual((await add(u.sid, { title: 'new', is_edit: true, editing: 'ghost' })).body, { success: true });
    assert.deepEqual((await add(u.sid, { title: 'other', is_edit: true })).body, { success: true });
    assert.deepEqual((await add(u.sid, { title: 'NEW', description: 'clobber?', is_edit: true, editing: 'ghost' })).body, { preset_fail: 'A preset with that title already exists.' });
    // Without `editing`, an edit means the preset named by the title itself.
    assert.deepEqual((await add(u.sid, { title: 'other', description: 'edited', is_edit: true })).body, { success: true });
    assert.deepEqual((await exported(u.sid)).map((p) => [p.title, p.description]), [['new', ''], ['other', 'edited']]);
  });

  test('param_map that is missing or not an object gets a clear error naming it and nothing is stored', async () => {
    const u = await freshUser();
    const cases: [unknown, string][] = [
      [undefined, "Missing required parameter 'param_map'"],
      [null, "Invalid value null for parameter 'param_map', must be a JSON object ('JObject')"],
      [[], "Invalid value '[]' for parameter 'param_map', must be a JSON object ('JObject')"],
      ['x', "Invalid value 'x' for parameter 'param_map', must be a JSON object ('JObject')"],
      [5, "Invalid value '5' for parameter 'param_map', must be a JSON object ('JObject')"],
      [true, "Invalid value 'True' for parameter 'param_map', must be a JSON object ('JObject')"],
    ];
    for (const [param_map, error] of cases) {
      const body: Record<string, unknown> = { session_id: u.sid, title: 'p', description: '' };
      if (param_map !== undefined) body.param_map = param_map;
      const res = await server.api('AddNewPreset', body);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { error }, JSON.stringify(param_map));
    }
    assert.deepEqual(await titles(u.sid), []);
  });

  test('JSON nested 10,000 levels deep is refused with internal_error and the server keeps serving', async () => {
    const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const res = await server.api('AddNewPreset', `{"session_id":"${sid}","title":"deep","description":"","param_map":${deep}}`);
    assert.equal(res.status, 400);
    assert.equal(res.body.error_id, 'internal_error');
    assert.deepEqual((await add(sid, { title: 'after deep' })).body, { success: true });
  });

  test('50 concurrent adds with distinct titles leave 50 presets', async () => {
    const u = await freshUser();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => add(u.sid, { title: `concurrent ${i}` })));
    assert.ok(results.every((r) => r.body.success === true));
    const list = await titles(u.sid);
    assert.equal(list.length, 50);
    assert.equal(new Set(list).size, 50);
  });

  test('concurrent adds of one title: exactly one succeeds, the others are told it exists', async () => {
    const u = await freshUser();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => add(u.sid, { title: 'Same', description: String(i) })));
    assert.equal(results.filter((r) => r.body.success === true).length, 1);
    assert.equal(results.filter((r) => r.body.preset_fail === 'A preset with that title already exists.').length, 9);
    assert.deepEqual(await titles(u.sid), ['Same']);
  });
});

describe('preview images', () => {
  test('a JPEG data URL is stored as a thumbnail with a 256 px short side, carrying the metadata text', async () => {
    const u = await freshUser();
    assert.deepEqual((await add(u.sid, { title: 'pic', preview_image: jpegDataUrl(600, 400), preview_image_metadata: '{"prompt":"a cat"}' })).body, { success: true });
    const stored = String((await exported(u.sid))[0]!.preview_image);
    assert.ok(stored.startsWith(JPEG_PREFIX));
    const bytes = Buffer.from(stored.slice(JPEG_PREFIX.length), 'base64');
    const decoded = jpeg.decode(bytes, { useTArray: true });
    assert.deepEqual([decoded.width, decoded.height], [384, 256]);
    assert.equal(readExifText(bytes), '{"prompt":"a cat"}');
  });

  test('a small preview grows to a 256 px short side, each side truncated', async () => {
    const u = await freshUser();
    await add(u.sid, { title: 'small', preview_image: jpegDataUrl(30, 70) });
    const stored = String((await exported(u.sid))[0]!.preview_image);
    const decoded = jpeg.decode(Buffer.from(stored.slice(JPEG_PREFIX.length), 'base64'), { useTArray: true });
    assert.deepEqual([decoded.width, decoded.height], [256, 597]);
  });

  test('GetMyUserData points at /ViewSpecial/Preset/<encoded title>?editid=n, which serves the stored bytes', async () => {
    const u = await freshUser();
    const title = 'folder/50% off+ é';
    await add(u.sid, { title, preview_image: jpegDataUrl(64, 64) });
    await add(u.sid, { title: 'plain' });
    const data = await server.call('GetMyUserData', u.sid, {}, u.headers);
    const presets = data.body.presets as Array<Record<string, unknown>>;
    const url = String(presets[0]!.preview_image);
    assert.match(url, /^\/ViewSpecial\/Preset\/folder\/50%25%20off%2B%20%C3%A9\?editid=\d+$/);
    assert.equal(presets[0]!.title, title);
    assert.equal(presets[1]!.preview_image, PLACEHOLDER);
    const res = await fetch(server.url + url, { headers: u.headers });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    assert.equal(res.headers.get('cache-control'), 'private, max-age=2');
    const stored = String((await exported(u.sid))[0]!.preview_image);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), Buffer.from(stored.slice(JPEG_PREFIX.length), 'base64'));
  });

  test('every AddNewPreset raises the editid, so the browser fetches a changed image', async () => {
    const u = await freshUser();
    await add(u.sid, { title: 'e', preview_image: jpegDataUrl(16, 16) });
    const first = ((await server.call('GetMyUserData', u.sid, {}, u.headers)).body.presets as Array<Record<string, string>>)[0]!.preview_image!;
    await add(u.sid, { title: 'e', preview_image: jpegDataUrl(20, 20), is_edit: true, editing: 'e' });
    const second = ((await server.call('GetMyUserData', u.sid, {}, u.headers)).body.presets as Array<Record<string, string>>)[0]!.preview_image!;
    assert.ok(Number(second.split('editid=')[1]) > Number(first.split('editid=')[1]));
  });

  test('an edit keeps the image when the UI echoes its /ViewSpecial/ URL or sends none; the placeholder path resets it', async () => {
    const u = await freshUser();
    await add(u.sid, { title: 'keep', preview_image: jpegDataUrl(32, 32) });
    const original = (await exported(u.sid))[0]!.preview_image;
    await add(u.sid, { title: 'keep', is_edit: true, editing: 'keep', preview_image: '/ViewSpecial/Preset/keep?editid=3' });
    assert.equal((await exported(u.sid))[0]!.preview_image, original);
    await add(u.sid, { title: 'keep', is_edit: true, editing: 'keep' });
    assert.equal((await exported(u.sid))[0]!.preview_image, original);
    await add(u.sid, { title: 'keep', is_edit: true, editing: 'keep', preview_image: PLACEHOLDER });
    assert.equal((await exported(u.sid))[0]!.preview_image, PLACEHOLDER);
  });

  test('an edit that keeps the preview never brings back an image another edit replaced meanwhile', async () => {
    const u = await freshUser();
    const image = jpegDataUrl(24, 24);
    for (let round = 0; round < 8; round++) {
      await add(u.sid, { title: 'race', preview_image: image, is_edit: round > 0, editing: 'race' });
      assert.notEqual((await exported(u.sid))[0]!.preview_image, PLACEHOLDER);
      // One edit resets the image while several others keep "whatever is stored": whichever order they commit
      // in, the stored image afterwards is the placeholder, never the image read before the reset.
      const answers = await Promise.all([
        add(u.sid, { title: 'race', is_edit: true, editing: 'race', preview_image: PLACEHOLDER }),
        ...Array.from({ length: 5 }, (_, i) => add(u.sid, { title: 'race', is_edit: true, editing: 'race', description: `keep ${round}.${i}` })),
      ]);
      for (const a of answers) assert.deepEqual(a.body, { success: true });
      assert.equal((await exported(u.sid))[0]!.preview_image, PLACEHOLDER, `round ${round}`);
    }
  });

  test('paths and non-JPEG data URLs are refused as forbidden preview-image paths', async () => {
    const u = await freshUser();
    for (const preview_image of ['/Output/local/img.png', '/Output/x.jpg?raw=1', 'data:image/png;base64,iVBORw0KGgo=', 'data:image/jpeg;base64,/9j/?', 'http://example.com/a.jpg', '../../etc/passwd', 'imgs/other.jpg']) {
      assert.deepEqual((await add(u.sid, { title: 'bad', preview_image })).body, { preset_fail: 'Forbidden preview-image path.' }, preview_image);
    }
    assert.deepEqual(await titles(u.sid), []);
  });

  test('a JPEG data URL with broken base64 or non-JPEG bytes is refused as unreadable', async () => {
    const u = await freshUser();
    const broken = [JPEG_PREFIX + 'not base64!', JPEG_PREFIX + Buffer.from('GIF89a not a jpeg').toString('base64'), jpegDataUrl(40, 40).slice(0, 200) + 'AAAA'];
    for (const preview_image of broken) {
      assert.deepEqual((await add(u.sid, { title: 'bad', preview_image })).body, { preset_fail: 'The preview image could not be read as a JPEG.' });
    }
    assert.deepEqual(await titles(u.sid), []);
  });

  test('a 50 MB preview image is refused as too large and the server keeps serving', async () => {
    const u = await freshUser();
    const huge = JSON.stringify({ session_id: u.sid, title: 'huge', description: '', param_map: {}, preview_image: JPEG_PREFIX + Buffer.alloc(50 * 1024 * 1024, 0xab).toString('base64') });
    const res = await postOnNewConnection(`${server.url}/API/AddNewPreset`, huge);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { preset_fail: 'The preview image is too large: send a JPEG of at most 16 MiB and 25 megapixels.' });
    assert.deepEqual((await add(u.sid, { title: 'fine' })).body, { success: true });
  });

  test('an image over 25 megapixels is refused before it is decoded', async () => {
    const u = await freshUser();
    // A valid JPEG header claiming 6000x6000: the size check reads the frame header only.
    const bytes = Buffer.from(jpegDataUrl(8, 8).slice(JPEG_PREFIX.length), 'base64');
    const sof = bytes.indexOf(Buffer.from([0xff, 0xc0]));
    bytes.writeUInt16BE(6000, sof + 5);
    bytes.writeUInt16BE(6000, sof + 7);
    const res = await add(u.sid, { title: 'wide', preview_image: JPEG_PREFIX + bytes.toString('base64') });
    assert.deepEqual(res.body, { preset_fail: 'The preview image is too large: send a JPEG of at most 16 MiB and 25 megapixels.' });
  });

  test('a small image more than 64 times as long as it is wide is refused as too narrow, not as too large', async () => {
    const u = await freshUser();
    // 20000x100 is only 2 megapixels, but its thumbnail would be 51200x256.
    const bytes = Buffer.from(jpegDataUrl(8, 8).slice(JPEG_PREFIX.length), 'base64');
    const sof = bytes.indexOf(Buffer.from([0xff, 0xc0]));
    bytes.writeUInt16BE(100, sof + 5);
    bytes.writeUInt16BE(20000, sof + 7);
    const res = await add(u.sid, { title: 'thin', preview_image: JPEG_PREFIX + bytes.toString('base64') });
    assert.deepEqual(res.body, { preset_fail: 'The preview image is too long and narrow: its long side may be at most 64 times its short side.' });
    assert.deepEqual(await titles(u.sid), []);
  });
});

describe('/ViewSpecial/Preset', () => {
  test('a preset without an embedded image, an unknown preset and an unknown subtype answer 404 file_not_found', async () => {
    const u = await freshUser();
    await add(u.sid, { title: 'noimage' });
    for (const p of ['/ViewSpecial/Preset/noimage', '/ViewSpecial/Preset/ghost', '/ViewSpecial/Models/x', '/ViewSpecial/Preset/']) {
      const res = await fetch(server.url + p, { headers: u.headers });
      assert.equal(res.status, 404, p);
      assert.deepEqual(await res.json(), { error: '404, file not found.', error_id: 'file_not_found' });
    }
  });

  test("one user's preview URL shows nothing to another user", async () => {
    const a = await freshUser();
    const b = await freshUser();
    await add(a.sid, { title: 'private', preview_image: jpegDataUrl(16, 16) });
    assert.equal((await fetch(`${server.url}/ViewSpecial/Preset/private`, { headers: a.headers })).status, 200);
    assert.equal((await fetch(`${server.url}/ViewSpecial/Preset/private`, { headers: b.headers })).status, 404);
  });

  test('the title lookup ignores letter case and decodes the path', async () => {
    const u = await freshUser();
    await add(u.sid, { title: 'Some Folder/Café', preview_image: jpegDataUrl(16, 16) });
    const res = await fetch(`${server.url}/ViewSpecial/Preset/some%20folder/CAF%C3%89`, { headers: u.headers });
    assert.equal(res.status, 200);
  });
});

describe('DuplicatePreset', () => {
  test('copies under "<stored title> (2)", then (3), at the end of the list, with every field', async () => {
    const u = await freshUser();
    await add(u.sid, { title: 'Base', description: 'd', param_map: { steps: 4 }, is_starred: true, preview_image: jpegDataUrl(16, 16) });
    await add(u.sid, { title: 'Other' });
    assert.deepEqual((await server.call('DuplicatePreset', u.sid, { preset: 'base' })).body, { success: true });
    assert.deepEqual((await server.call('DuplicatePreset', u.sid, { preset: 'BASE' })).body, { success: true });
    const list = await exported(u.sid);
    assert.deepEqual(list.map((p) => p.title), ['Base', 'Other', 'Base (2)', 'Base (3)']);
    const { title: _t, ...original } = list[0]!;
    const { title: _c, ...copy } = list[2]!;
    assert.deepEqual(copy, original);
  });

  test('fills the smallest free number', async () => {
    const u = await freshUser();
    await add(u.sid, { title: 'X' });
    await add(u.sid, { title: 'x (3)' });
    await server.call('DuplicatePreset', u.sid, { preset: 'x' });
    await server.call('DuplicatePreset', u.sid, { preset: 'x' });
    assert.deepEqual(await titles(u.sid), ['X', 'x (3)', 'X (2)', 'X (4)']);
  });

  test('an unknown preset is refused with No such preset', async () => {
    assert.deepEqual((await server.call('DuplicatePreset', sid, { preset: 'does not exist' })).body, { preset_fail: 'No such preset.' });
  });

  test('20 concurrent duplicates of one preset leave 20 distinct titles', async () => {
    const u = await freshUser();
    await add(u.sid, { title: 'Orig' });
    const results = await Promise.all(Array.from({ length: 20 }, () => server.call('DuplicatePreset', u.sid, { preset: 'Orig' })));
    assert.ok(results.every((r) => r.body.success === true));
    const list = await titles(u.sid);
    assert.equal(list.length, 21);
    assert.deepEqual(new Set(list), new Set(['Orig', ...Array.from({ length: 20 }, (_, i) => `Orig (${i + 2})`)]));
  });
});

describe('DeletePreset, ExportUserPresets, SetPresetLinks', () => {
  test('DeletePreset answers true once, in any letter case, then false', async () => {
    const u = await freshUser();
    await add(u.sid, { title: 'Gone' });
    assert.deepEqual((await server.call('DeletePreset', u.sid, { preset: 'gONE' })).body, { success: true });
    assert.deepEqual((await server.call('DeletePreset', u.sid, { preset: 'gone' })).body, { success: false });
    assert.deepEqual(await titles(u.sid), []);
  });

  test('ExportUserPresets filters by exact titles when given an array, in list order', async () => {
    const u = await freshUser();
    for (const title of ['A', 'B', 'C']) await add(u.sid, { title });
    const pick = async (body: Record<string, unknown>) => ((await server.call('ExportUserPresets', u.sid, body)).body.presets as Array<Record<string, unknown>>).map((p) => p.title);
    assert.deepEqual(await pick({ titles: ['C', 'a', 'A', 'nope'] }), ['A', 'C']);
    assert.deepEqual(await pick({ titles: [] }), []);
    assert.deepEqual(await pick({ titles: 'A' }), ['A', 'B', 'C']);
  });

  test('SetPresetLinks replaces the whole map and GetMyUserData shows it', async () => {
    const u = await freshUser();
    const links = { 'Stable-Diffusion': { 'sdxl.safetensors': ['A', 'B'] } };
    assert.deepEqual((await server.call('SetPresetLinks', u.sid, links)).body, { success: true });
    assert.deepEqual((await server.call('GetMyUserData', u.sid, {}, u.headers)).body.model_preset_links, links);
    await server.call('SetPresetLinks', u.sid, { LoRA: {} });
    assert.deepEqual((await server.call('GetMyUserData', u.sid, {}, u.headers)).body.model_preset_links, { LoRA: {} });
  });
});
