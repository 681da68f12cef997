// Presets: add/edit, duplicate, delete, export, and the per-model preset links (docs/COMPATIBILITY.md). Where the
// reference would clobber or crash, these answer with a preset_fail and change nothing.
import { memberText } from '../util/token-text.js';
import { SUCCESS_OUTPUT, defineRoute } from '../api/route.js';
import type { Field } from '../api/params.js';
import { strictFilenameClean } from '../accounts/names.js';
import { PRESET_FAIL } from '../presets/preview-image.js';
import { paramMapText, presetNetData } from '../presets/presets.js';

const GROUP = 'BasicAPIFeatures';
const fail = (text: string): { preset_fail: string } => ({ preset_fail: text });

/** A preset as routes answer with it (`presetNetData`); the preview differs between them. */
export function presetField(preview: string): Field {
  return {
    type: 'object',
    description: 'One preset.',
    fields: {
      author: { type: 'string', description: 'The user who saved it.' },
      title: { type: 'string', description: 'Its title; `/` separates folders.' },
      description: { type: 'string', description: 'Free text.' },
      preview_image: { type: 'string', description: preview },
      is_starred: { type: 'bool', description: 'Whether it is starred.' },
      param_map: { type: 'map', key: '<parameter id>', description: 'The parameters it sets.', values: { type: 'string', description: 'The value, as text.' } },
    },
  };
}

export const addNewPreset = defineRoute({
  name: 'AddNewPreset',
  group: GROUP,
  description: 'Saves a new preset, or with is_edit changes (and possibly renames) an existing one.',
  permission: 'manage_presets',
  userUpdate: true,
  params: {
    title: { type: 'string', description: 'The preset title; `/` makes folders. Cleaned like a file name.' },
    description: { type: 'string', description: 'Free text describing the preset.' },
    param_map: {
      type: 'object',
      description: 'The parameters the preset sets: parameter id to value (values are stored as text).',
      shape: { type: 'map', key: '<parameter id>', description: 'The parameters.', values: { type: 'any', description: 'The value; anything but text is stored as its JSON text.' } },
    },
    preview_image: { type: 'string', description: "A `data:image/jpeg;base64,` preview, `imgs/model_placeholder.jpg`, or the preset's own /ViewSpecial/ URL to keep the image.", default: null },
    preview_image_metadata: { type: 'string', description: 'Text stored inside the preview JPEG (normally the image parameters).', default: null },
    is_edit: { type: 'bool', description: 'True to change the preset named by `editing` instead of adding one.', default: false },
    editing: { type: 'string', description: 'With is_edit: the current title of the preset to change (defaults to `title`).', default: null },
    is_starred: { type: 'bool', description: 'Whether the preset is starred.', default: false },
  },
  output: [SUCCESS_OUTPUT, { preset_fail: { type: 'string', description: 'Why nothing was changed.' } }],
  example: '"success": true\n// or\n"preset_fail": "A preset with that title already exists."',
  async handler(ctx, p) {
    const title = strictFilenameClean(p.title);
    if (title === '') return fail(PRESET_FAIL.invalidTitle);
    const refused = await ctx.presets.save(ctx.session.userId, {
      title,
      description: p.description,
      paramMap: paramMapText(p.param_map),
      isStarred: p.is_starred,
      previewImage: p.preview_image,
      previewMetadata: p.preview_image_metadata,
      editing: p.is_edit ? (p.editing ?? title) : null,
      log: ctx.log,
    });
    return refused === null ? { success: true } : fail(refused);
  },
});

export const duplicatePresetRoute = defineRoute({
  name: 'DuplicatePreset',
  group: GROUP,
  description: 'Copies a preset as "<title> (2)", "(3)", ... (the first free number), added at the end of the list.',
  permission: 'manage_presets',
  userUpdate: true,
  params: { preset: { type: 'string', description: 'The title of the preset to copy (any letter case).' } },
  output: [SUCCESS_OUTPUT, { preset_fail: { type: 'string', description: 'Why nothing was changed.' } }],
  example: '"success": true\n// or\n"preset_fail": "No such preset."',
  async handler(ctx, { preset }) {
    return (await ctx.presets.duplicate(ctx.session.userId, preset)) ? { success: true } : fail(PRESET_FAIL.noSuchPreset);
  },
});

export const deletePreset = defineRoute({
  name: 'DeletePreset',
  group: GROUP,
  description: 'Deletes a preset. `success` is false when there was no such preset.',
  permission: 'manage_presets',
  userUpdate: true,
  params: { preset: { type: 'string', description: 'The title of the preset to delete (any letter case).' } },
  output: { success: { type: 'bool', description: 'False when there was no such preset.' } },
  example: '"success": true',
  async handler(ctx, { preset }) {
    return { success: await ctx.presets.delete(ctx.session.userId, preset) };
  },
});

export const exportUserPresets = defineRoute({
  name: 'ExportUserPresets',
  group: GROUP,
  description: "Returns the user's presets with their preview images embedded, for saving to a file.",
  permission: 'fundamental_generate_tab_access',
  userUpdate: false,
  params: {
    titles: {
      type: 'any',
      description: 'Only the presets with exactly these titles (letter case counts); anything but an array means all.',
      default: null,
      shape: { type: 'string[]', description: 'Preset titles.' },
    },
  },
  output: { presets: { type: 'array', description: 'The presets, in the order of the user\'s list.', items: presetField('The stored preview: a `data:image/jpeg;base64,` URL, or the placeholder path.') } },
  example: '"presets": [{"author": "...", "title": "...", "description": "...", "preview_image": "data:image/jpeg;base64,...", "is_starred": false, "param_map": {}}]',
  async handler(ctx, { titles }) {
    const wanted = Array.isArray(titles) ? new Set(titles.map((_, i) => memberText(titles, i))) : null;
    const presets = await ctx.presets.list(ctx.session.userId);
    return { presets: presets.filter((p) => !wanted || wanted.has(p.title)).map((p) => presetNetData(p, true)) };
  },
});

export const setPresetLinks = defineRoute({
  name: 'SetPresetLinks',
  group: GROUP,
  description: 'Replaces the links from models to presets: {"<model type>": {"<model name>": ["<preset title>", ...]}}.',
  permission: 'fundamental_model_access',
  userUpdate: true,
  params: {
    links: {
      type: 'body',
      key: '<model type>',
      description: 'The links of one model type; the body holds every model type (the whole map is replaced).',
      values: { type: 'map', key: '<model name>', description: 'Models of this type.', values: { type: 'string[]', description: 'Titles of the presets linked to the model.' } },
    },
  },
  output: SUCCESS_OUTPUT,
  async handler(ctx, { links }) {
    await ctx.presets.setLinks(ctx.session.userId, links);
    return { success: true };
  },
});

export const PRESET_ROUTES = [addNewPreset, duplicatePresetRoute, deletePreset, exportUserPresets, setPresetLinks];
