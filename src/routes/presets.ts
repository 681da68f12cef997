// Presets: add/edit, duplicate, delete, export, and the per-model preset links (reference/02 §1.1, §1.4, §1.5,
// §1.20, §2.1-§2.5). Where the reference would clobber or crash, these answer with a preset_fail and change nothing.
import { softError } from '../api/errors.js';
import { tokenText } from '../api/params.js';
import { defineRoute } from '../api/route.js';
import { strictFilenameClean } from '../accounts/names.js';
import { PRESET_FAIL, PREVIEW_PLACEHOLDER, decidePreview } from '../presets/preview-image.js';
import { bumpModelEditId, duplicatePreset, paramMapText, presetKey, presetNetData } from '../presets/presets.js';
import type { PresetRecord } from '../store/types.js';

const GROUP = 'BasicAPIFeatures';
const fail = (text: string): { preset_fail: string } => ({ preset_fail: text });

export const addNewPreset = defineRoute({
  name: 'AddNewPreset',
  group: GROUP,
  description: 'Saves a new preset, or with is_edit changes (and possibly renames) an existing one.',
  permission: 'manage_presets',
  userUpdate: true,
  params: {
    title: { type: 'string', description: 'The preset title; `/` makes folders. Cleaned like a file name.' },
    description: { type: 'string', description: 'Free text describing the preset.' },
    raw: { type: 'object', description: 'The request body: its `param_map` key holds the parameters, an object of parameter id to value.' },
    preview_image: { type: 'string', description: "A `data:image/jpeg;base64,` preview, `imgs/model_placeholder.jpg`, or the preset's own /ViewSpecial/ URL to keep the image.", default: null },
    preview_image_metadata: { type: 'string', description: 'Text stored inside the preview JPEG (normally the image parameters).', default: null },
    is_edit: { type: 'bool', description: 'True to change the preset named by `editing` instead of adding one.', default: false },
    editing: { type: 'string', description: 'With is_edit: the current title of the preset to change (defaults to `title`).', default: null },
    is_starred: { type: 'bool', description: 'Whether the preset is starred.', default: false },
  },
  output: '"success": true\n// or\n"preset_fail": "A preset with that title already exists."',
  async handler(ctx, p) {
    const { store } = ctx.core;
    const userId = ctx.session.userId;
    const title = strictFilenameClean(p.title);
    if (title === '') return fail(PRESET_FAIL.invalidTitle);
    const paramMap = p.raw.param_map;
    if (typeof paramMap !== 'object' || paramMap === null || Array.isArray(paramMap)) {
      throw softError('param_map must be a JSON object of parameter ids to values.');
    }
    const key = presetKey(title);
    // An edit of a preset that is not there (or without `editing`) is a plain add, with the same exists check.
    const existing = p.is_edit ? await store.presets.get(userId, presetKey(p.editing ?? title)) : null;
    if ((!existing || existing.key !== key) && (await store.presets.get(userId, key))) return fail(PRESET_FAIL.exists);
    const preview = await decidePreview(p.preview_image, p.preview_image_metadata, { owner: userId, log: ctx.log });
    if (preview.kind === 'fail') return fail(preview.text);
    const previewImage = preview.kind === 'image' ? preview.dataUrl : preview.kind === 'keep' && existing ? existing.previewImage : PREVIEW_PLACEHOLDER;
    const preset: PresetRecord = {
      key,
      title,
      author: userId,
      description: p.description,
      previewImage,
      isStarred: p.is_starred,
      paramMap: paramMapText(paramMap as Record<string, unknown>),
    };
    bumpModelEditId();
    // The store refuses atomically when another preset holds the title, so nothing is ever overwritten.
    const saved = (existing && (await store.presets.replace(userId, existing.key, preset))) || (await store.presets.insert(userId, preset));
    return saved ? { success: true } : fail(PRESET_FAIL.exists);
  },
});

export const duplicatePresetRoute = defineRoute({
  name: 'DuplicatePreset',
  group: GROUP,
  description: 'Copies a preset as "<title> (2)", "(3)", ... (the first free number), added at the end of the list.',
  permission: 'manage_presets',
  userUpdate: true,
  params: { preset: { type: 'string', description: 'The title of the preset to copy (any letter case).' } },
  output: '"success": true\n// or\n"preset_fail": "No such preset."',
  async handler(ctx, { preset }) {
    const userId = ctx.session.userId;
    const source = await ctx.core.store.presets.get(userId, presetKey(preset));
    if (!source) return fail(PRESET_FAIL.noSuchPreset);
    await duplicatePreset(ctx.core.store, userId, source);
    return { success: true };
  },
});

export const deletePreset = defineRoute({
  name: 'DeletePreset',
  group: GROUP,
  description: 'Deletes a preset. `success` is false when there was no such preset.',
  permission: 'manage_presets',
  userUpdate: true,
  params: { preset: { type: 'string', description: 'The title of the preset to delete (any letter case).' } },
  output: '"success": true',
  async handler(ctx, { preset }) {
    return { success: await ctx.core.store.presets.delete(ctx.session.userId, presetKey(preset)) };
  },
});

export const exportUserPresets = defineRoute({
  name: 'ExportUserPresets',
  group: GROUP,
  description: "Returns the user's presets with their preview images embedded, for saving to a file.",
  permission: 'fundamental_generate_tab_access',
  userUpdate: false,
  params: { raw: { type: 'object', description: 'The request body: an optional `titles` array limits the export to presets with exactly those titles.' } },
  output: '"presets": [{"author": "...", "title": "...", "description": "...", "preview_image": "data:image/jpeg;base64,...", "is_starred": false, "param_map": {}}]',
  async handler(ctx, { raw }) {
    const wanted = Array.isArray(raw.titles) ? new Set(raw.titles.map(tokenText)) : null;
    const presets = await ctx.core.store.presets.list(ctx.session.userId);
    return { presets: presets.filter((p) => !wanted || wanted.has(p.title)).map((p) => presetNetData(p, true)) };
  },
});

export const setPresetLinks = defineRoute({
  name: 'SetPresetLinks',
  group: GROUP,
  description: 'Replaces the links from models to presets: {"<model type>": {"<model name>": ["<preset title>", ...]}}.',
  permission: 'fundamental_model_access',
  userUpdate: true,
  params: { raw: { type: 'object', description: 'The request body is the whole link map (apart from session_id).' } },
  output: '"success": true',
  async handler(ctx, { raw }) {
    await ctx.core.store.genericData.set(ctx.session.userId, 'modelpresetlinks', 'full', JSON.stringify(raw));
    return { success: true };
  },
});

export const PRESET_ROUTES = [addNewPreset, duplicatePresetRoute, deletePreset, exportUserPresets, setPresetLinks];
