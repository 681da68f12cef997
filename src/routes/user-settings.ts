// The user's own settings and parameter edits (reference/02 §1.3, §1.11, §1.18, §3). ChangeUserSettings checks
// every entry first and stores all of them or none.
import { softError } from '../api/errors.js';
import { defineRoute } from '../api/route.js';
import type { Core } from '../core.js';
import { checkUserSettingChanges, renderUserSettings, type OptionSources } from '../accounts/user-settings.js';
import { autocompleteFiles } from '../autocomplete/autocompletions.js';
import { listFiles } from '../util/list-files.js';
import path from 'node:path';

const GROUP = 'BasicAPIFeatures';
const AUDIO_EXTENSIONS = ['wav', 'wave', 'mp3', 'aac', 'ogg', 'flac'];

/** The server-dependent option lists of the settings tree, read now. */
async function optionSources(core: Core): Promise<OptionSources> {
  const [audioFiles, completionFiles] = await Promise.all([listFiles(path.join(core.dataDir, 'Audio'), AUDIO_EXTENSIONS), autocompleteFiles(core.dataDir)]);
  return { themes: core.themes.all(), languages: core.languages.codes(), audioFiles, autocompleteFiles: completionFiles };
}

export const getUserSettings = defineRoute({
  name: 'GetUserSettings',
  group: GROUP,
  description: "Returns the themes and the user's settings with their types, current values, defaults, options and descriptions.",
  permission: 'read_user_settings',
  userUpdate: false,
  params: {},
  output: '"themes": {"modern_dark": {"name": "Modern Dark", "is_dark": true, "css_paths": ["css/themes/modern.css", "css/themes/modern_dark.css"]}},\n"settings": {"theme": {"type": "dropdown", "name": "Theme", "value": "modern_dark", "description": "...", "values": ["modern_dark"], "value_names": ["Modern Dark"], "is_secret": false, "default_value": "modern_dark"}}',
  async handler(ctx) {
    const { core } = ctx;
    const user = await core.users.get(ctx.session.userId);
    const themes: Record<string, unknown> = {};
    for (const t of core.themes.all()) themes[t.id] = { name: t.name, is_dark: t.isDark, css_paths: [...t.cssPaths] };
    return { themes, settings: renderUserSettings(user?.settings ?? {}, core.settings, await optionSources(core), core.userSettings.tree()) };
  },
});

export const changeUserSettings = defineRoute({
  name: 'ChangeUserSettings',
  group: GROUP,
  description: 'Changes some of your settings. Every entry is checked first; if one is wrong, nothing changes and the error names it. Unknown ids are ignored.',
  permission: 'edit_user_settings',
  userUpdate: true,
  params: { raw: { type: 'object', description: 'The request body: its `settings` key maps dotted setting ids (any letter case, e.g. `fileformat.imageformat`) to new values.' } },
  output: '"success": true',
  async handler(ctx, { raw }) {
    const { core } = ctx;
    const input = raw.settings;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw softError('settings must be a JSON object of setting ids to values.');
    const check = checkUserSettingChanges(input as Record<string, unknown>, await optionSources(core), (id) => core.userSettings.get(id));
    if (!check.ok) throw softError(check.message);
    if (check.ignored.length > 0) ctx.log.debug({ userId: ctx.session.userId, ignored: check.ignored.slice(0, 20) }, 'ChangeUserSettings ignored unknown setting ids');
    if (Object.keys(check.changes).length > 0) {
      await core.store.users.updateSettings(ctx.session.userId, (current) => ({ ...current, ...check.changes }));
      await core.users.changed(ctx.session.userId);
    }
    return { success: true };
  },
});

export const setParamEdits = defineRoute({
  name: 'SetParamEdits',
  group: GROUP,
  description: "Stores the user's parameter layout edits from the User tab (opaque to the server; ListT2IParams returns them).",
  permission: 'edit_params',
  userUpdate: true,
  params: { raw: { type: 'object', description: 'The request body: its `edits` key holds the edits object.' } },
  output: '"success": true',
  async handler(ctx, { raw }) {
    const edits = raw.edits;
    if (typeof edits !== 'object' || edits === null || Array.isArray(edits)) throw softError('edits must be a JSON object.');
    await ctx.core.store.users.update(ctx.session.userId, { paramEdits: JSON.stringify(edits) });
    return { success: true };
  },
});

export const USER_SETTINGS_ROUTES = [getUserSettings, changeUserSettings, setParamEdits];
