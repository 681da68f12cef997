// What the page loads about its user, starred models, translations and client debug messages
// (docs/COMPATIBILITY.md).
import { softError } from '../api/errors.js';
import { SUCCESS_OUTPUT, defineRoute } from '../api/route.js';
import { presetField } from './presets.js';
import { USER_SETTINGS_BY_ID, effectiveUserSetting, type UserSettingLeaf } from '../accounts/user-settings.js';
import { autocompletionsFor } from '../autocomplete/autocompletions.js';
import { currentModelEditId, presetListNetData } from '../presets/presets.js';
import type { UserService } from '../accounts/users.js';
import { keepAsJson } from '../util/json-text.js';
import type { PresetService } from '../presets/service.js';

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

/** What a GetMyUserData answer is made of; an answer made from the same parts is the same. */
interface AnswerParts {
  profile: ReturnType<UserService['profile']>;
  access: ReturnType<UserService['getAccess']>;
  presets: ReturnType<PresetService['listWithoutImages']>;
  links: ReturnType<PresetService['links']>;
  settingsVersion: number;
  modelEditId: number;
}

function samePart(a: AnswerParts, b: AnswerParts): boolean {
  return a.profile === b.profile && a.access === b.access && a.presets === b.presets && a.links === b.links && a.settingsVersion === b.settingsVersion && a.modelEditId === b.modelEditId;
}

/** Users whose last answer is kept, per server (by its user service); then the map starts over. */
const KEPT_ANSWERS = 1000;
const keptAnswers = new WeakMap<object, Map<string, { parts: AnswerParts; answer: Record<string, unknown> }>>();

function answersOf(server: object): Map<string, { parts: AnswerParts; answer: Record<string, unknown> }> {
  let answers = keptAnswers.get(server);
  if (!answers) keptAnswers.set(server, (answers = new Map()));
  return answers;
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
    // All from memory while nothing changed: the services keep each part as one promise per user and replace it
    // on every instance when it changes, so the same four promises mean the same answer.
    const parts: AnswerParts = {
      profile: ctx.users.profile(userId),
      access: ctx.users.getAccess(userId),
      presets: ctx.presets.listWithoutImages(userId),
      links: ctx.presets.links(userId),
      settingsVersion: ctx.settings.version,
      modelEditId: currentModelEditId(),
    };
    const answers = answersOf(ctx.users);
    const known = answers.get(userId);
    if (known && samePart(known.parts, parts)) return known.answer;
    const [profile, access, presets, links] = await Promise.all([parts.profile, parts.access, parts.presets, parts.links]);
    const own = profile?.settings ?? {};
    const setting = (id: string) => effectiveUserSetting(USER_SETTINGS_BY_ID.get(id) as UserSettingLeaf, own, ctx.settings);
    const source = String(setting('autocomplete.source'));
    const autocompletions = await autocompletionsFor(ctx.server.dataDir, source, {
      escapeParens: setting('autocomplete.escapeparens') === true,
      suffix: String(setting('autocomplete.suffix')),
      spacingMode: String(setting('autocomplete.spacingmode')),
    });
    const answer = {
      user_name: userId,
      presets: presetListNetData(presets),
      language: setting('language'),
      permissions: access?.permissionsJson ?? [],
      starred_models: profile?.starred ?? {},
      model_preset_links: links,
      autocompletions,
    };
    // An autocompletion file can change on disk without any event: only answers without one are kept.
    if (source.trim() === '') {
      if (answers.size >= KEPT_ANSWERS) answers.clear();
      answers.set(userId, { parts, answer: keepAsJson(answer) });
    }
    return answer;
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
