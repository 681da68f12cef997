// The user's own settings and parameter edits (docs/COMPATIBILITY.md). ChangeUserSettings checks every entry
// first: it skips and names what the reference skips, and stores all the rest or, when a value is wrong, none.
import { softError } from '../api/errors.js';
import type { Field } from '../api/params.js';
import { SUCCESS_OUTPUT, defineRoute } from '../api/route.js';
import type { Services } from '../services.js';
import { SKIP_REASONS, checkUserSettingChanges, renderUserSettings, type OptionSources } from '../accounts/user-settings.js';
import { autocompleteFiles } from '../autocomplete/autocompletions.js';
import { listFiles } from '../util/list-files.js';
import path from 'node:path';

const GROUP = 'BasicAPIFeatures';
const AUDIO_EXTENSIONS = ['wav', 'wave', 'mp3', 'aac', 'ogg', 'flac'];

/** The server-dependent option lists of the settings tree, read now. */
export async function optionSources(s: Services): Promise<OptionSources> {
  const dataDir = s.server.dataDir;
  const [audioFiles, completionFiles] = await Promise.all([listFiles(path.join(dataDir, 'Audio'), AUDIO_EXTENSIONS), autocompleteFiles(dataDir)]);
  return { themes: s.themes.all(), languages: s.languages.codes(), audioFiles, autocompleteFiles: completionFiles };
}

export const getUserSettings = defineRoute({
  name: 'GetUserSettings',
  group: GROUP,
  description: "Returns the themes and the user's settings with their types, current values, defaults, options and descriptions.",
  permission: 'read_user_settings',
  userUpdate: false,
  params: {},
  output: {
    themes: {
      type: 'map',
      key: '<theme id>',
      description: 'Every theme, in registration order.',
      values: {
        type: 'object',
        description: 'One theme.',
        fields: { name: { type: 'string', description: 'Display name.' }, is_dark: { type: 'bool', description: 'Whether it is a dark theme.' }, css_paths: { type: 'string[]', description: 'Its stylesheets, relative to the site.' } },
      },
    },
    settings: {
      type: 'map',
      key: '<setting id>',
      description: "The user's settings tree, keyed by lower-case name.",
      values: {
        type: 'object',
        description: 'One setting, or a group of them (`type` `group`, its settings in `value`).',
        fields: {
          type: { type: 'string', description: 'The value type (`text`, `integer`, `decimal`, `boolean`, `dropdown`, `list`, ...) or `group`.' },
          name: { type: 'string', description: 'Its display name.' },
          value: { type: 'any', description: "The user's value (a group: its settings, keyed the same way)." },
          description: { type: 'string', description: 'What it does.' },
          values: { type: 'string[]', nullable: true, description: 'The choices of a dropdown; null otherwise.' },
          value_names: { type: 'string[]', nullable: true, description: 'The display names of `values`.' },
          is_secret: { type: 'bool', description: 'Whether the value is hidden in the UI.' },
          default_value: { type: 'any', optional: true, description: 'The value for users who have not changed it (not on groups).' },
        },
      },
    },
  },
  example: '"themes": {"modern_dark": {"name": "Modern Dark", "is_dark": true, "css_paths": ["css/themes/modern.css", "css/themes/modern_dark.css"]}},\n"settings": {"theme": {"type": "dropdown", "name": "Theme", "value": "modern_dark", "description": "...", "values": ["modern_dark"], "value_names": ["Modern Dark"], "is_secret": false, "default_value": "modern_dark"}}',
  async handler(ctx) {
    const user = await ctx.users.get(ctx.session.userId);
    const themes: Record<string, unknown> = {};
    for (const t of ctx.themes.all()) themes[t.id] = { name: t.name, is_dark: t.isDark, css_paths: [...t.cssPaths] };
    return { themes, settings: renderUserSettings(user?.settings ?? {}, ctx.settings, await optionSources(ctx), ctx.userSettings.tree()) };
  },
});

/** What ChangeUserSettings takes as a value: text, a number, true/false, or a list (a list's items are kept as text). */
const SETTING_VALUE: Field = {
  type: 'union',
  description: "The new value, of the setting's type.",
  of: [
    { type: 'string', description: 'Text, or a number, boolean or comma-separated list written as text.' },
    { type: 'double', description: 'A number.' },
    { type: 'bool', description: 'A boolean.' },
    { type: 'array', description: 'A list.', items: { type: 'any', description: 'An item; anything but text is kept as its JSON text.' } },
  ],
};

export const changeUserSettings = defineRoute({
  name: 'ChangeUserSettings',
  group: GROUP,
  description:
    'Changes some of your settings. Unknown ids, the restricted `roles`, group ids and `null` for a text setting are skipped and listed in `skipped`; the rest is checked first, and if a value is wrong nothing changes and the error names its key.',
  permission: 'edit_user_settings',
  userUpdate: true,
  params: {
    settings: {
      type: 'object',
      description: 'The settings to change: dotted setting id (any letter case, e.g. `fileformat.imageformat`) to its new value.',
      shape: { type: 'map', key: '<setting id>', description: 'The changes.', values: SETTING_VALUE },
    },
  },
  output: {
    ...SUCCESS_OUTPUT,
    skipped: {
      type: 'array',
      optional: true,
      description: 'Only when entries were skipped: each of them, in the order sent (the other entries were applied).',
      items: {
        type: 'object',
        description: 'One skipped entry.',
        fields: {
          id: { type: 'string', description: 'The id as sent.' },
          reason: { type: 'string', values: SKIP_REASONS, description: '`unknown` no such setting; `restricted` only an administrator may change it; `group` a group of settings, not one; `null` null given to a text setting.' },
        },
      },
    },
  },
  example: '"success": true\n// or, when some entries were skipped (the others were applied):\n"success": true, "skipped": [{"id": "roles", "reason": "restricted"}]',
  async handler(ctx, { settings }) {
    const check = checkUserSettingChanges(settings, await optionSources(ctx), (id) => ctx.userSettings.get(id));
    if (!check.ok) throw softError(check.message);
    if (Object.keys(check.changes).length > 0) await ctx.users.changeSettings(ctx.session.userId, check.changes);
    if (check.skipped.length === 0) return { success: true };
    ctx.log.debug({ userId: ctx.session.userId, skipped: check.skipped.slice(0, 20) }, 'ChangeUserSettings skipped entries');
    return { success: true, skipped: check.skipped };
  },
});

export const setParamEdits = defineRoute({
  name: 'SetParamEdits',
  group: GROUP,
  description: "Stores the user's parameter layout edits from the User tab (opaque to the server; ListT2IParams returns them).",
  permission: 'edit_params',
  userUpdate: true,
  params: {
    edits: {
      type: 'object',
      description: 'The layout edits of the User tab, stored as sent (`{"groups": {...}, "params": {...}}`).',
      shape: {
        type: 'object',
        description: 'The edits.',
        fields: {
          groups: { type: 'map', key: '<group id>', optional: true, description: 'Changed parameter groups.', values: { type: 'any', description: 'open, advanced, priority.' } },
          params: { type: 'map', key: '<parameter id>', optional: true, description: 'Changed parameters.', values: { type: 'any', description: 'visible, advanced, priority, min, max, step, group, ...' } },
        },
      },
    },
  },
  output: SUCCESS_OUTPUT,
  async handler(ctx, { edits }) {
    await ctx.users.setParamEdits(ctx.session.userId, edits);
    return { success: true };
  },
});

export const USER_SETTINGS_ROUTES = [getUserSettings, changeUserSettings, setParamEdits];
