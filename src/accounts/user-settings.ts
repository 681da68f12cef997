// Per-user settings (docs/COMPATIBILITY.md#user-settings): the whole tree with types, defaults, options and
// descriptions; the GetUserSettings rendering (§3.2); value conversion for ChangeUserSettings (§3.4). A user's
// effective value is their own change, else the server's `DefaultUser.<Name>` setting, else the default written
// here.
import type { ServerSettings, SettingDef } from '../settings/server-settings.js';
import { exactJson, exactNumberText, memberText } from '../util/token-text.js';

export type UserSettingType = 'text' | 'integer' | 'decimal' | 'boolean' | 'list' | 'dropdown';
export type UserSettingValue = string | number | boolean | string[];

/** The option lists that depend on the server: registered themes, languages, and files in the data dir. */
export interface OptionSources {
  themes: ReadonlyArray<{ id: string; name: string }>;
  languages: readonly string[];
  audioFiles: readonly string[];
  autocompleteFiles: readonly string[];
}

interface Options {
  values: string[];
  names: string[];
}

export interface UserSettingLeaf {
  kind: 'leaf';
  /** Lower-case dotted id, e.g. `fileformat.imageformat`. */
  id: string;
  /** The field name, e.g. `ImageFormat`. */
  name: string;
  /** The server setting holding the default for every user, e.g. `DefaultUser.FileFormat.ImageFormat`. */
  serverKey: string;
  type: UserSettingType;
  default: UserSettingValue;
  description: string;
  options?: (sources: OptionSources) => Options;
  /** True when only the listed options are accepted (fixed lists, themes, languages). */
  strict?: boolean;
  /** Hidden from GetUserSettings and skipped by ChangeUserSettings. */
  restricted?: boolean;
  /**
   * The range of a number the server's `DefaultUser.<Name>` default takes (`settings set`, `--set`). A user's own
   * value is not range-checked, as in the reference; the web page clamps where it matters.
   */
  min?: number;
  max?: number;
}

export interface UserSettingGroup {
  kind: 'group';
  id: string;
  name: string;
  description: string;
  children: UserSettingNode[];
}

export type UserSettingNode = UserSettingLeaf | UserSettingGroup;

type LeafSpec = Omit<UserSettingLeaf, 'kind' | 'id' | 'serverKey'>;

const fixed = (values: string[], names: string[] = values) => (): Options => ({ values: [...values], names: [...names] });

function leaf(spec: LeafSpec): LeafSpec & { kind: 'leaf' } {
  return { kind: 'leaf', ...spec };
}

function group(name: string, description: string, children: Array<(LeafSpec & { kind: 'leaf' }) | GroupSpec>): GroupSpec {
  return { kind: 'group', name, description, children };
}

interface GroupSpec {
  kind: 'group';
  name: string;
  description: string;
  children: Array<(LeafSpec & { kind: 'leaf' }) | GroupSpec>;
}

const vae = (name: string, model: string) =>
  leaf({ name, type: 'dropdown', default: 'None', options: fixed(['None']), description: `The VAE used for ${model} models when a generation does not pick one. 'None' uses the VAE built into the model.` });

// prettier-ignore
const TREE_SPEC: Array<(LeafSpec & { kind: 'leaf' }) | GroupSpec> = [
  group('OutPathBuilder', 'How the paths of saved images are built.', [
    leaf({ name: 'Format', type: 'text', default: 'raw/[year]-[month]-[day]/[hour][minute][request_time_inc]-[prompt]-[model]', description: 'Template for the path of each saved file, relative to your output folder. Words in [brackets] are filled in per image, for example [year], [prompt], [model], [seed] or [request_time_inc]. See <a href="https://github.com/mcmonkeyprojects/SwarmUI/blob/master/docs/User%20Settings.md#path-format" target="_blank">the path format documentation</a> for the full list.' }),
    leaf({ name: 'MaxLenPerPart', type: 'integer', default: 40, min: 1, description: 'Longest text, in characters, that one [placeholder] may fill in.' }),
    leaf({ name: 'ModelPathsSkipFolders', type: 'boolean', default: false, description: 'When checked, model and LoRA placeholders use only the file name, without the folders it sits in.' }),
  ]),
  group('FileFormat', 'The format of the image files that are saved.', [
    leaf({ name: 'ImageFormat', type: 'dropdown', default: 'PNG', options: fixed(['PNG', 'JPG', 'WEBP_LOSSLESS', 'WEBP']), strict: true, description: 'File format for saved images.' }),
    leaf({ name: 'ImageQuality', type: 'integer', default: 100, min: 1, max: 100, description: 'Quality from 1 to 100 for JPEG and WEBP files (PNG ignores it). Values outside that range are clamped when used.' }),
    leaf({ name: 'SaveMetadata', type: 'boolean', default: true, description: 'Write the generation parameters into each image file.' }),
    leaf({ name: 'StealthMetadata', type: 'dropdown', default: 'false', options: fixed(['false', 'Alpha', 'RGB']), strict: true, description: "Also hide the parameters in the image's pixels, in the alpha channel or in the colour channels, so they survive sites that strip file metadata. 'false' turns this off." }),
    leaf({ name: 'DPI', type: 'integer', default: 0, min: 0, description: 'Dots-per-inch value written into the file; 0 leaves it out.' }),
    leaf({ name: 'SaveTextFileMetadata', type: 'boolean', default: false, description: 'Also write the parameters to a .swarm.json file next to each image.' }),
    leaf({ name: 'ReformatTransientImages', type: 'boolean', default: false, description: 'Apply the format and metadata choices above even to images that are shown but not saved.' }),
  ]),
  group('UI', 'Choices that only change how the web page behaves.', [
    leaf({ name: 'TagMoveHotkeyEnabled', type: 'boolean', default: false, description: 'Alt with the left or right arrow moves the comma-separated tag under the cursor within the prompt.' }),
    leaf({ name: 'CheckIfSureBeforeDelete', type: 'boolean', default: true, description: 'Ask for confirmation before deleting an image. Holding Shift skips the question.' }),
    leaf({ name: 'PresetListDetailsFields', type: 'text', default: '', description: "Comma-separated fields shown in the detailed preset list: any of 'name', 'path', 'description' and 'params'. Empty shows path, description and params." }),
    leaf({ name: 'CopyTriggerPhraseWithTrailingComma', type: 'boolean', default: false, description: 'Add a comma after a trigger phrase when copying it.' }),
    leaf({ name: 'RemoveInterruptedGens', type: 'boolean', default: false, description: 'Remove interrupted generations from the batch view instead of leaving them there.' }),
    leaf({ name: 'HideErrorMessages', type: 'text', default: '', description: "Error messages containing any of these texts (separated by '|') are not shown in a popup." }),
    leaf({ name: 'DeleteImageBehavior', type: 'dropdown', default: 'next', options: fixed(['nothing', 'next', 'previous'], ['Nothing', 'Next (Right/Down)', 'Previous (Left/Up)']), strict: true, description: 'Which image the viewer shows after you delete one.' }),
    leaf({ name: 'ImageShiftingCycles', type: 'dropdown', default: 'true', options: fixed(['true', 'false', 'only_arrows'], ['Enabled', 'Disabled', 'Only Arrow Keys']), strict: true, description: 'Whether moving past the last image wraps around to the first (and back).' }),
    leaf({ name: 'DefaultHideMetadataInFullView', type: 'boolean', default: false, description: 'Open the full-screen view with the image metadata hidden.' }),
  ]),
  group('ParamParsing', 'How prompts and parameters are read.', [
    leaf({ name: 'AllowLoraStacking', type: 'boolean', default: true, description: 'Allow the same LoRA to be applied more than once. When unchecked, only its first use counts.' }),
  ]),
  leaf({ name: 'SaveFiles', type: 'boolean', default: true, description: 'Save generated images on the server. Your image history needs this.' }),
  leaf({ name: 'StarNoFolders', type: 'boolean', default: false, description: 'When you star an image, put the copy directly in the Starred folder instead of keeping its folders.' }),
  leaf({ name: 'Roles', type: 'list', default: ['owner'], restricted: true, description: 'The roles this account has. Only an administrator can change them.' }),
  leaf({ name: 'Theme', type: 'dropdown', default: 'modern_dark', strict: true, options: (s) => ({ values: s.themes.map((t) => t.id), names: s.themes.map((t) => t.name) }), description: 'The look of the web page.' }),
  leaf({ name: 'CenterImageAlwaysGrow', type: 'boolean', default: false, description: 'Always enlarge the main image to fill its area, even when it is smaller.' }),
  leaf({ name: 'AutoSwapImagesIncludesFullView', type: 'boolean', default: false, description: 'When a new image replaces the current one, also replace it in an open full-screen view.' }),
  leaf({ name: 'ButtonsUnderMainImages', type: 'text', default: '', description: "Comma-separated names of the buttons shown under the main image; the others go in the 'More' menu. Empty shows Use As Init, Edit Image, Star and Reuse Parameters." }),
  leaf({ name: 'ImageMetadataFormat', type: 'dropdown', default: 'auto', options: fixed(['auto', 'below', 'side']), strict: true, description: "Where the current image's metadata is shown: below it, beside it, or whichever fits ('auto')." }),
  leaf({ name: 'ResetBatchSizeToOne', type: 'boolean', default: false, description: 'Set the batch size back to 1 whenever parameters are loaded from an image or preset.' }),
  leaf({ name: 'HintFormat', type: 'dropdown', default: 'BUTTON', options: fixed(['BUTTON', 'HOVER', 'HOVER_DELAY', 'NONE']), strict: true, description: 'How parameter explanations are shown: behind a ? button, on hover, on hover after a delay, or not at all.' }),
  leaf({ name: 'HoverDelaySeconds', type: 'decimal', default: 0.5, min: 0, description: 'With HOVER_DELAY hints: how many seconds to wait before showing one.' }),
  leaf({ name: 'MaxPromptLines', type: 'integer', default: 10, min: 1, description: 'How many lines the prompt box grows to before it scrolls.' }),
  group('VAEs', 'Which VAE each kind of model uses by default.', [
    vae('DefaultSDXLVAE', 'SDXL'), vae('DefaultSDv1VAE', 'Stable Diffusion v1'), vae('DefaultSVDVAE', 'SVD video'), vae('DefaultFluxVAE', 'Flux'),
    vae('DefaultFlux2VAE', 'Flux.2'), vae('DefaultSD3VAE', 'SD3'), vae('DefaultMochiVAE', 'Mochi'), vae('DefaultQwenVAE', 'Qwen Image'),
  ]),
  leaf({ name: 'MaxImagesInMiniGrid', type: 'integer', default: 1, min: 1, description: 'When a generation makes several images, show up to this many together as a small grid. 1 turns the grid off.' }),
  leaf({ name: 'MaxImagesInHistory', type: 'integer', default: 1000, min: 0, description: 'The image history stops listing after this many images.' }),
  leaf({ name: 'MaxImagesScannedInHistory', type: 'integer', default: 10000, min: 0, description: 'How many files the server looks through at most when building the image history, before sorting.' }),
  leaf({ name: 'ImageHistoryUsePreviews', type: 'boolean', default: true, description: 'Show small preview copies in the image history instead of the full images (faster; the previews are kept on the server).' }),
  leaf({ name: 'MaxSimulPreviews', type: 'integer', default: 1, min: 1, description: 'How many live previews may be requested at the same time.' }),
  leaf({ name: 'EnterKeyGenerates', type: 'boolean', default: true, description: 'Pressing Enter in the prompt box starts a generation (Shift+Enter adds a line).' }),
  leaf({ name: 'GenerateForeverDelay', type: 'decimal', default: 0.1, min: 0, description: "Seconds between the checks of 'Generate Forever'." }),
  leaf({ name: 'GenerateForeverQueueSize', type: 'integer', default: 1, min: 1, description: "How many generations 'Generate Forever' keeps waiting in the queue." }),
  leaf({ name: 'ParameterMemoryDurationHours', type: 'decimal', default: 6, min: 0, description: 'How many hours the page remembers your last parameters (kept in browser cookies).' }),
  leaf({ name: 'Language', type: 'dropdown', default: 'en', strict: true, options: (s) => ({ values: [...s.languages], names: [...s.languages] }), description: 'The language of the web page.' }),
  leaf({ name: 'ReuseParamExcludeList', type: 'text', default: 'wildcardseed', description: "Comma-separated parameter ids that 'Reuse Parameters' leaves unchanged." }),
  group('Audio', 'Sounds played by the web page.', [
    leaf({ name: 'CompletionSound', type: 'dropdown', default: '', options: (s) => ({ values: ['', ...s.audioFiles], names: ['', ...s.audioFiles] }), description: "A sound to play when a generation finishes, from the server's Audio folder. Empty plays nothing." }),
    leaf({ name: 'Volume', type: 'decimal', default: 0.5, min: 0, max: 1, description: 'Volume of the sounds, from 0 (silent) to 1 (full).' }),
    leaf({ name: 'VideoAudioBehavior', type: 'dropdown', default: 'last', options: fixed(['last', 'play', 'silent'], ['Remember Last', 'Autoplay', 'Default to Silent']), strict: true, description: 'Whether videos with sound start muted.' }),
  ]),
  group('AutoComplete', 'Completion suggestions while typing a prompt.', [
    leaf({ name: 'Source', type: 'dropdown', default: '', options: (s) => ({ values: ['', ...s.autocompleteFiles], names: ['', ...s.autocompleteFiles] }), description: "The word list to suggest from: a .txt or .csv file in the server's Autocompletions folder. Empty turns suggestions off." }),
    leaf({ name: 'EscapeParens', type: 'boolean', default: true, description: 'Put a backslash before parentheses in suggestions, so they are not read as prompt weighting.' }),
    leaf({ name: 'Suffix', type: 'text', default: '', description: "Text added after each accepted suggestion, for example ', '." }),
    leaf({ name: 'MatchMode', type: 'dropdown', default: 'Bucketed', options: fixed(['Bucketed', 'Contains', 'StartsWith']), strict: true, description: 'Which words match what you typed: those that start with it, those that contain it, or starting matches first and then the rest (Bucketed).' }),
    leaf({ name: 'SortMode', type: 'dropdown', default: 'Active', options: fixed(['Active', 'Alphabetical', 'Frequency', 'None']), strict: true, description: 'The order of the suggestions.' }),
    leaf({ name: 'SpacingMode', type: 'dropdown', default: 'None', options: fixed(['None', 'Spaces', 'Underscores']), strict: true, description: 'Turn underscores in suggestions into spaces, spaces into underscores, or leave them as they are.' }),
  ]),
];

function build(specs: GroupSpec['children'], parentId: string, parentKey: string): UserSettingNode[] {
  return specs.map((s) => {
    const id = parentId === '' ? s.name.toLowerCase() : `${parentId}.${s.name.toLowerCase()}`;
    const key = `${parentKey}.${s.name}`;
    if (s.kind === 'group') return { kind: 'group', id, name: s.name, description: s.description, children: build(s.children, id, key) };
    return { ...s, id, serverKey: key };
  });
}

/** The tree, in the order GetUserSettings lists it. */
export const USER_SETTINGS: readonly UserSettingNode[] = build(TREE_SPEC, '', 'DefaultUser');

function flatten(nodes: readonly UserSettingNode[], out: Map<string, UserSettingNode>): Map<string, UserSettingNode> {
  for (const n of nodes) {
    out.set(n.id, n);
    if (n.kind === 'group') flatten(n.children, out);
  }
  return out;
}

/** Every node by lower-case dotted id. */
export const USER_SETTINGS_BY_ID: ReadonlyMap<string, UserSettingNode> = flatten(USER_SETTINGS, new Map());

export function userSettingLeaves(): UserSettingLeaf[] {
  return [...USER_SETTINGS_BY_ID.values()].filter((n): n is UserSettingLeaf => n.kind === 'leaf');
}

const SERVER_TYPES = { text: 'string', dropdown: 'string', integer: 'int', decimal: 'decimal', boolean: 'bool', list: 'string[]' } as const;

/** Registers `DefaultUser.<Name>` for every user setting not defined already (Roles, Theme and Language are). */
export function defineUserSettingDefaults(settings: ServerSettings, leaves: readonly UserSettingLeaf[] = userSettingLeaves()): void {
  for (const s of leaves) {
    if (settings.find(s.serverKey)) continue;
    const def: SettingDef = { key: s.serverKey, type: SERVER_TYPES[s.type], default: s.default, description: `Default for every user who has not changed it: ${s.description}` };
    // Whole numbers are Int32 in the reference's settings; ChangeUserSettings takes no more either.
    const max = s.max ?? (s.type === 'integer' ? 2 ** 31 - 1 : undefined);
    const min = s.min ?? (s.type === 'integer' ? -(2 ** 31 - 1) : undefined);
    if (min !== undefined) def.min = min;
    if (max !== undefined) def.max = max;
    const values = s.strict && s.options ? s.options({ themes: [], languages: [], audioFiles: [], autocompleteFiles: [] }).values : [];
    if (values.length > 0) def.values = values;
    settings.define(def);
  }
}

/** The value a user sees: their own change, else the server's default for users, else the built-in default. */
export function effectiveUserSetting(s: UserSettingLeaf, own: Record<string, unknown>, server: ServerSettings): UserSettingValue {
  if (Object.prototype.hasOwnProperty.call(own, s.id)) {
    const converted = convertUserSetting(s, own[s.id]);
    if (converted.ok) return converted.value;
  }
  // Every leaf's `DefaultUser.*` setting is defined with the leaf, and holds the built-in default unless changed.
  return server.get(s.serverKey);
}

/**
 * GetUserSettings' `settings` object (docs/COMPATIBILITY.md#getusersettings); restricted settings are left out at
 * every level.
 */
export function renderUserSettings(own: Record<string, unknown>, server: ServerSettings, sources: OptionSources, tree: readonly UserSettingNode[], includeRestricted = false): Record<string, unknown> {
  const render = (nodes: readonly UserSettingNode[]): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const n of nodes) {
      if (n.kind === 'group') {
        out[n.name.toLowerCase()] = { type: 'group', name: n.name, value: render(n.children), description: n.description, values: null, value_names: null, is_secret: false };
        continue;
      }
      if (n.restricted && !includeRestricted) continue;
      const value = effectiveUserSetting(n, own, server);
      const options = n.options?.(sources);
      out[n.name.toLowerCase()] = {
        type: n.type,
        name: n.name,
        value: Array.isArray(value) ? value.join(' || ') : value,
        description: n.description,
        values: options ? options.values : null,
        value_names: options ? options.names : null,
        is_secret: false,
        default_value: Array.isArray(n.default) ? n.default.join(' || ') : n.default,
      };
    }
    return out;
  };
  return render(tree);
}

export type Conversion = { ok: true; value: UserSettingValue } | { ok: false; expected: string };

const NUMBER_TEXT = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

function toNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && NUMBER_TEXT.test(value)) return Number(value);
  return null;
}

/** Rounds half to even, as .NET converts a fractional number to an integer. */
function roundHalfEven(n: number): number {
  const r = Math.round(n);
  return Math.abs(n % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Converts a JSON value to the setting's type (docs/COMPATIBILITY.md#changeusersettings), or says what the setting
 * takes. `exact`: the digits of an integer too long for a double, as sent (docs/COMPATIBILITY.md#exact-numbers).
 */
export function convertUserSetting(s: UserSettingLeaf, value: unknown, exact?: string): Conversion {
  switch (s.type) {
    case 'integer': {
      if (exact !== undefined) return { ok: false, expected: 'a whole number within ±2147483647' };
      const n = toNumber(value);
      if (n === null) return { ok: false, expected: 'a whole number' };
      const i = roundHalfEven(n);
      return Math.abs(i) <= 2 ** 31 - 1 ? { ok: true, value: i } : { ok: false, expected: 'a whole number within ±2147483647' };
    }
    case 'decimal': {
      const n = toNumber(value);
      return n === null ? { ok: false, expected: 'a number' } : { ok: true, value: n };
    }
    case 'boolean':
      if (typeof value === 'boolean') return { ok: true, value };
      if (typeof value === 'number' && Number.isFinite(value)) return { ok: true, value: value !== 0 };
      if (typeof value === 'string' && /^\s*(true|false)\s*$/i.test(value)) return { ok: true, value: value.trim().toLowerCase() === 'true' };
      return { ok: false, expected: 'true or false' };
    case 'list':
      if (Array.isArray(value)) return { ok: true, value: value.map((v, i) => (typeof v === 'string' ? v : typeof v === 'number' ? memberText(value, i) : exactJson(v))) };
      if (typeof value === 'string') return { ok: true, value: value.split(',').map((v) => v.trim()).filter((v) => v !== '') };
      return { ok: false, expected: 'a list of texts' };
    case 'text':
    case 'dropdown':
      if (typeof value === 'string') return { ok: true, value };
      if (typeof value === 'number' && Number.isFinite(value)) return { ok: true, value: exact ?? String(value) };
      if (typeof value === 'boolean') return { ok: true, value: value ? 'true' : 'false' };
      return { ok: false, expected: 'a text' };
  }
}

/**
 * Why ChangeUserSettings left an entry out (docs/COMPATIBILITY.md#changeusersettings): `unknown` no such setting,
 * `restricted` only an administrator may change it (roles), `group` a group of settings rather than one, `null`
 * JSON null given to a text setting. The reference skips these four the same way.
 */
export type SkipReason = 'unknown' | 'restricted' | 'group' | 'null';
export const SKIP_REASONS: readonly SkipReason[] = ['unknown', 'restricted', 'group', 'null'];

export interface SkippedSetting {
  /** The id as the client sent it. */
  id: string;
  reason: SkipReason;
}

export type ChangeCheck = { ok: true; changes: Record<string, UserSettingValue>; skipped: SkippedSetting[] } | { ok: false; key: string; message: string };

function describe(value: unknown, exact?: string): string {
  const text = exact ?? (value === undefined ? 'nothing' : exactJson(value));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Checks every entry of a ChangeUserSettings request before anything is stored. Entries the reference skips are
 * skipped and listed (unknown ids, the restricted `roles`, group ids, `null` for a text setting); a value of the
 * wrong type or outside a fixed option list refuses the whole request, naming the key (where the reference fails
 * the whole call, or, for option lists, accepts anything: docs/COMPATIBILITY.md#d20).
 */
export function checkUserSettingChanges(input: Record<string, unknown>, sources: OptionSources, find: (id: string) => UserSettingNode | undefined, allowRestricted = false): ChangeCheck {
  const changes: Record<string, UserSettingValue> = {};
  const skipped: SkippedSetting[] = [];
  for (const [key, value] of Object.entries(input)) {
    const node = find(key.toLowerCase());
    // Restricted settings (`roles`) are skipped unless the caller may set them (AdminChangeUserSettings).
    const restricted = node !== undefined && node.kind !== 'group' && node.restricted === true && !allowRestricted;
    if (!node || node.kind === 'group' || restricted || (value === null && (node.type === 'text' || node.type === 'dropdown'))) {
      skipped.push({ id: key, reason: !node ? 'unknown' : node.kind === 'group' ? 'group' : restricted ? 'restricted' : 'null' });
      continue;
    }
    const exact = exactNumberText(input, key);
    const converted = convertUserSetting(node, value, exact);
    if (!converted.ok) return { ok: false, key, message: `The setting '${key}' takes ${converted.expected}, not ${describe(value, exact)}.` };
    if (node.strict && node.options) {
      const allowed = node.options(sources).values;
      if (!allowed.includes(String(converted.value))) {
        return { ok: false, key, message: `The setting '${key}' must be one of: ${allowed.map((v) => (v === '' ? '(empty)' : v)).join(', ')}; ${describe(value, exact)} is not.` };
      }
    }
    changes[node.id] = converted.value;
  }
  return { ok: true, changes, skipped };
}

/** A user setting an extension adds; `values` makes a dropdown's options (only those accepted when `strict`). */
export interface NewUserSetting {
  name: string;
  type: UserSettingType;
  default: UserSettingValue;
  description: string;
  values?: readonly string[];
  /** Display names of `values`, same order. */
  valueNames?: readonly string[];
  strict?: boolean;
}

/** A group of user settings an extension adds (shown as one section). */
export interface NewUserSettingGroup {
  name: string;
  description: string;
  settings: ReadonlyArray<NewUserSetting | NewUserSettingGroup>;
}

const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * One server's settings tree: the built-in tree, then what extensions add at the top level (a setting or a
 * group of their own). Built-in groups stay as they are, so an extension can never change what they mean.
 */
export class UserSettingRegistry {
  private readonly added: UserSettingNode[] = [];
  private readonly addedById = new Map<string, UserSettingNode>();

  /** The whole tree in GetUserSettings order. */
  tree(): readonly UserSettingNode[] {
    return this.added.length === 0 ? USER_SETTINGS : [...USER_SETTINGS, ...this.added];
  }

  /** A node by lower-case dotted id. */
  get(id: string): UserSettingNode | undefined {
    return USER_SETTINGS_BY_ID.get(id) ?? this.addedById.get(id);
  }

  /** Adds a top-level setting or group; returns the new leaves (their `DefaultUser.*` server settings are due). */
  add(spec: NewUserSetting | NewUserSettingGroup): UserSettingLeaf[] {
    const leaves: UserSettingLeaf[] = [];
    const nodes = new Map<string, UserSettingNode>();
    const build = (s: NewUserSetting | NewUserSettingGroup, parentId: string, parentKey: string): UserSettingNode => {
      if (!NAME.test(s.name)) throw new Error(`User setting name '${s.name}' must start with a letter and hold only letters, digits and '_'`);
      const id = parentId === '' ? s.name.toLowerCase() : `${parentId}.${s.name.toLowerCase()}`;
      if (this.get(id) || nodes.has(id)) throw new Error(`User setting '${id}' is registered twice`);
      const key = `${parentKey}.${s.name}`;
      let node: UserSettingNode;
      if ('settings' in s) {
        node = { kind: 'group', id, name: s.name, description: s.description, children: s.settings.map((c) => build(c, id, key)) };
      } else {
        const values = s.values ? [...s.values] : undefined;
        const names = s.valueNames ? [...s.valueNames] : values;
        const leafNode: UserSettingLeaf = { kind: 'leaf', id, name: s.name, serverKey: key, type: s.type, default: s.default, description: s.description };
        if (values) leafNode.options = () => ({ values: [...values], names: [...(names ?? values)] });
        if (s.strict) leafNode.strict = true;
        leaves.push(leafNode);
        node = leafNode;
      }
      nodes.set(id, node);
      return node;
    };
    const root = build(spec, '', 'DefaultUser');
    this.added.push(root);
    for (const [id, node] of nodes) this.addedById.set(id, node);
    return leaves;
  }
}
