// What the page loads about its user, starred models, translations and client debug messages
// (docs/COMPATIBILITY.md).
import { softError } from '../api/errors.js';
import { SUCCESS_OUTPUT, defineRoute } from '../api/route.js';
import { presetField } from './presets.js';
import { USER_SETTINGS_BY_ID, effectiveUserSetting, type UserSettingLeaf } from '../accounts/user-settings.js';
import { autocompletionsFor } from '../autocomplete/autocompletions.js';
import { presetListNetData } from '../presets/presets.js';

const GROUP = 'BasicAPIFeatures';
/** Longest debug message logged; the rest is cut off. */
export const DEBUG_MESSAGE_MAX_CHARS = 10_000;

/** Makes text safe for one log line: control and line-separator characters become visible escapes. */
export function escapeLogText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

export const getMyUserData = defineRoute({
  name: 'GetMyUserData',
  group: GROUP,
  description: 'Returns what the page needs about its user: name, presets, language, permissions, starred models, preset links and autocompletions.',
  permission: 'fundamental_generate_tab_access',
  userUpdate: false,
  params: {},
  output: {
    user_name: { type: 'string', description: "The session's user id." },
    presets: { type: 'array', description: "The user's presets, in list order.", items: presetField('A `/ViewSpecial/Preset/<title>?editid=<n>` URL for a stored image, or the placeholder path.') },
    language: { type: 'string', description: "The user's language code." },
    permissions: { type: 'string[]', description: "The user's permission ids (`*` for all)." },
    starred_models: { type: 'map', key: '<model type>', description: 'As stored by SetStarredModels (`{}` when never set).', values: { type: 'string[]', description: 'Model names.' } },
    model_preset_links: {
      type: 'map',
      key: '<model type>',
      description: 'As stored by SetPresetLinks (`{}` when never set).',
      values: { type: 'map', key: '<model name>', description: 'Links of one model type.', values: { type: 'string[]', description: 'Preset titles.' } },
    },
    autocompletions: { type: 'string[]', nullable: true, description: "The lines of the user's autocompletion source, or null when none is chosen." },
  },
  example: '"user_name": "local",\n"presets": [{"author": "local", "title": "...", "description": "...", "preview_image": "/ViewSpecial/Preset/...?editid=1", "is_starred": false, "param_map": {}}],\n"language": "en",\n"permissions": ["*"],\n"starred_models": {},\n"model_preset_links": {},\n"autocompletions": null',
  async handler(ctx) {
    const userId = ctx.session.userId;
    // All from memory while nothing changed (the services drop their entries on every instance on a change).
    const [profile, access, presets, links] = await Promise.all([
      ctx.users.profile(userId),
      ctx.users.getAccess(userId),
      ctx.presets.listWithoutImages(userId),
      ctx.presets.links(userId),
    ]);
    const own = profile?.settings ?? {};
    const setting = (id: string) => effectiveUserSetting(USER_SETTINGS_BY_ID.get(id) as UserSettingLeaf, own, ctx.settings);
    const autocompletions = await autocompletionsFor(ctx.server.dataDir, String(setting('autocomplete.source')), {
      escapeParens: setting('autocomplete.escapeparens') === true,
      suffix: String(setting('autocomplete.suffix')),
      spacingMode: String(setting('autocomplete.spacingmode')),
    });
    return {
      user_name: userId,
      presets: presetListNetData(presets),
      language: setting('language'),
      permissions: [...(access?.permissions ?? [])],
      starred_models: profile?.starred ?? {},
      model_preset_links: links,
      autocompletions,
    };
  },
});

export const setStarredModels = defineRoute({
  name: 'SetStarredModels',
  group: GROUP,
  description: 'Replaces your starred models: {"<model type>": ["<model name>", ...]}.',
  permission: 'fundamental_model_access',
  userUpdate: true,
  params: {
    starred: {
      type: 'body',
      key: '<model type>',
      description: 'The starred models of one model type; the body holds every model type (the whole map is replaced).',
      values: { type: 'string[]', description: 'Model names.' },
    },
  },
  output: SUCCESS_OUTPUT,
  async handler(ctx, { starred }) {
    await ctx.users.setStarredModels(ctx.session.userId, starred);
    return { success: true };
  },
});

export const getLanguage = defineRoute({
  name: 'GetLanguage',
  group: GROUP,
  description: 'Returns one UI language: its names and the translation of every UI text (empty = not translated).',
  permission: 'fundamental_generate_tab_access',
  userUpdate: false,
  params: { language: { type: 'string', description: 'The language code, exactly as listed (e.g. `en`, `de`).' } },
  output: {
    language: {
      type: 'object',
      description: 'The language.',
      fields: {
        code: { type: 'string', description: 'Its code.' },
        name: { type: 'string', description: 'Its English name.' },
        local_name: { type: 'string', description: 'Its name in itself.' },
        keys: { type: 'map', key: '<English UI text>', description: 'The translations.', values: { type: 'string', description: 'The translation; empty when not translated.' } },
      },
    },
  },
  example: '"language": {"code": "de", "name": "German", "local_name": "Deutsch", "keys": {"Generate": "Generieren"}}',
  handler(ctx, { language }) {
    const found = ctx.languages.get(language);
    if (!found) throw softError('No such language.');
    return { language: { code: found.code, name: found.name, local_name: found.localName, keys: found.keys } };
  },
});

export const serverDebugMessage = defineRoute({
  name: 'ServerDebugMessage',
  group: GROUP,
  description: 'Writes a message from the client into the server log (the UI sends its script errors here).',
  permission: 'server_debug_message',
  userUpdate: false,
  params: { message: { type: 'string', description: `The text to log; control characters are escaped and anything past ${DEBUG_MESSAGE_MAX_CHARS} characters is cut off.` } },
  output: SUCCESS_OUTPUT,
  handler(ctx, { message }) {
    const cut = message.length > DEBUG_MESSAGE_MAX_CHARS ? `${message.slice(0, DEBUG_MESSAGE_MAX_CHARS)}... (${message.length - DEBUG_MESSAGE_MAX_CHARS} more characters)` : message;
    const userId = ctx.session.userId;
    ctx.log.info({ userId, debugMessage: true }, `User '${escapeLogText(userId)}' sent a debug message: ${escapeLogText(cut)}`);
    return { success: true };
  },
});

export const USER_DATA_ROUTES = [getMyUserData, setStarredModels, getLanguage, serverDebugMessage];
