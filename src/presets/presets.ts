// Preset rules (docs/COMPATIBILITY.md#presets, docs/COMPATIBILITY.md#d26): identity, the wire form, parameter
// text, duplicate naming.
import type { PresetRecord } from '../store/types.js';
import { JsonText } from '../util/json-text.js';
import { memberText, tokenText } from '../util/token-text.js';

/** A preset's identity: its title lower-cased (full Unicode, the reference's recommendation). */
export function presetKey(title: string): string {
  return title.toLowerCase();
}

let modelEditId = 0;

/**
 * The process-wide cache-buster behind `?editid=` in /ViewSpecial/ URLs (docs/COMPATIBILITY.md#edit-ids): never
 * persisted, bumped by every AddNewPreset and by model or wildcard edits.
 */
export function bumpModelEditId(): number {
  return ++modelEditId;
}

export function currentModelEditId(): number {
  return modelEditId;
}

/** One `param_map` value as stored text: the token's text form, except that booleans stay lower-case. */
export function paramText(value: unknown): string {
  return typeof value === 'boolean' ? String(value) : tokenText(value);
}

/** A whole `param_map` as stored text; an integer longer than a double holds keeps the digits sent. */
export function paramMapText(map: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map)) out[k] = typeof v === 'boolean' ? String(v) : memberText(map, k);
  return out;
}

/** Parameter ids renamed since presets were first saved; applied on every read, never written back. */
const LEGACY_PARAMS: ReadonlyArray<[string, string]> = [
  ['saveintermediateimages', 'outputintermediateimages'],
  ['textvideofps', 'videofps'],
  ['textvideoboomerang', 'videoboomerang'],
  ['textvideoformat', 'videoformat'],
];

export function upgradeParamMap(map: Record<string, string>): Record<string, string> {
  if (!LEGACY_PARAMS.some(([old]) => old in map)) return map;
  const out = { ...map };
  for (const [old, renamed] of LEGACY_PARAMS) {
    if (!(old in out)) continue;
    const value = out[old]!;
    delete out[old];
    // The new id wins when both are present; a moved one goes to the end, as the reference does.
    if (!(renamed in out)) out[renamed] = value;
  }
  return out;
}

/** `/ViewSpecial/Preset/<title>`, each path segment percent-encoded (titles may hold `%`, `?`, `#`, spaces). */
export function presetImageUrl(title: string, editId: number): string {
  return `/ViewSpecial/Preset/${title.split('/').map(encodeURIComponent).join('/')}?editid=${editId}`;
}

/** Lists already shown without images, by the list (a cached list stays the same array until it changes). */
const shownLists = new WeakMap<readonly PresetRecord[], { editId: number; shown: JsonText }>();

/**
 * A whole preset list as the API shows it without images, as JSON text. The service hands out the same array
 * while the user's presets are unchanged, so the shown form is built and serialized once per list (and model
 * edit id), not on every call: 1,000 presets are half a megabyte of JSON.
 */
export function presetListNetData(list: readonly PresetRecord[]): JsonText {
  const editId = currentModelEditId();
  const known = shownLists.get(list);
  if (known && known.editId === editId) return known.shown;
  const shown = new JsonText(JSON.stringify(list.map((p) => presetNetData(p, false))));
  shownLists.set(list, { editId, shown });
  return shown;
}

/** The preset as the API shows it; without images, embedded previews become /ViewSpecial/ URLs. */
export function presetNetData(p: PresetRecord, withImage: boolean): Record<string, unknown> {
  const image = !withImage && p.previewImage.startsWith('data:') ? presetImageUrl(p.title, currentModelEditId()) : p.previewImage;
  return {
    author: p.author,
    title: p.title,
    description: p.description,
    preview_image: image,
    is_starred: p.isStarred,
    param_map: upgradeParamMap(p.paramMap),
  };
}
