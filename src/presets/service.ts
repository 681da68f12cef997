// The presets service: every read and write of a user's presets and of their model-to-preset links. Routes
// and pages go through it; it is the only code here that touches the preset store.
import type { Logger } from 'pino';
import type { EventBus } from '../cluster/events.js';
import { parseJson } from '../store/rows.js';
import { TransactionScope, type GenericDataStore, type PresetRecord, type PresetStore, type Store } from '../store/types.js';
import { bumpModelEditId, presetKey } from './presets.js';
import { PRESET_FAIL, PREVIEW_PLACEHOLDER, decidePreview } from './preview-image.js';
import { KeyedCache } from '../util/keyed-cache.js';
import { exactJson } from '../util/token-text.js';

/** The generic-data name the reference keeps model-to-preset links under. */
const PRESET_LINKS = 'modelpresetlinks';

export interface PresetInput {
  /** Already cleaned like a file name, and not empty. */
  title: string;
  description: string;
  /** Parameter values in stored text form. */
  paramMap: Record<string, string>;
  isStarred: boolean;
  /** The preview as the client sent it (see decidePreview), and the text to embed in it. */
  previewImage: string | null;
  previewMetadata: string | null;
  /** The current title of the preset to change; null to add a new one. */
  editing: string | null;
  /** Where the preview's trip through the thumbnail queue is logged. */
  log?: Logger;
}

/** Users whose preset lists and links are kept in memory per instance. */
const CACHED_USERS = 10_000;

export class PresetService {
  private readonly presets: PresetStore;
  private readonly data: GenericDataStore;
  /** Preset lists without images and preset links, per user, as GetMyUserData reads them on every page load. */
  private readonly summaries = new KeyedCache<readonly PresetRecord[]>(CACHED_USERS);
  private readonly linkCache = new KeyedCache<unknown>(CACHED_USERS);

  constructor(
    private readonly store: Pick<Store, 'presets' | 'genericData' | 'transaction'>,
    private readonly events: EventBus,
  ) {
    this.presets = store.presets;
    this.data = store.genericData;
    events.subscribe((e) => {
      if (e.type === 'presets.changed' || (e.type === 'user.changed' && e.deleted)) this.forget(e.userId);
      else if (e.type === 'resync') {
        this.summaries.clear();
        this.linkCache.clear();
      }
    });
  }

  private forget(userId: string): void {
    this.summaries.drop(userId);
    this.linkCache.drop(userId);
  }

  /** Drops this user's cached lists here and tells the other instances to do the same. */
  private changed(userId: string): Promise<void> {
    this.forget(userId);
    return this.events.publish({ type: 'presets.changed', userId });
  }

  /** The user's presets in list order, with their images. */
  list(userId: string): Promise<PresetRecord[]> {
    return this.presets.list(userId);
  }

  /**
   * The user's presets in list order, an embedded preview image read as the bare EMBEDDED_IMAGE prefix (what
   * presetNetData needs to point at the image's URL). Kept in memory until the presets change anywhere.
   */
  listWithoutImages(userId: string): Promise<readonly PresetRecord[]> {
    return this.summaries.get(userId, () => this.presets.listWithoutImages(userId));
  }

  /** A preset by title, in any letter case. */
  get(userId: string, title: string): Promise<PresetRecord | null> {
    return this.presets.get(userId, presetKey(title));
  }

  /**
   * Adds a preset, or changes (and possibly renames) the one named by `editing`. Returns the `preset_fail` text
   * when it refuses; nothing is ever overwritten, since the store refuses atomically when the title is taken.
   */
  async save(userId: string, p: PresetInput): Promise<string | null> {
    const key = presetKey(p.title);
    const editingKey = p.editing !== null ? presetKey(p.editing) : null;
    // A quick refusal before the thumbnail is made; the transaction below decides for real.
    const taken = async (presets: PresetStore): Promise<boolean> => {
      const existing = editingKey !== null ? await presets.get(userId, editingKey) : null;
      return (!existing || existing.key !== key) && (await presets.get(userId, key)) !== null;
    };
    if (await taken(this.presets)) return PRESET_FAIL.exists;
    // Made outside the transaction: a thumbnail takes a worker's time, and no write should wait for it.
    const preview = await decidePreview(p.previewImage, p.previewMetadata, { owner: userId, ...(p.log ? { log: p.log } : {}) });
    if (preview.kind === 'fail') return preview.text;
    // The edited preset is read again inside the transaction, so "keep the preview" keeps the one stored at the
    // moment of the write, not one a concurrent edit has replaced since.
    const saved = await this.store.transaction(async (tx) => {
      // An edit of a preset that is not there is a plain add, with the same exists check.
      const existing = editingKey !== null ? await tx.presets.get(userId, editingKey) : null;
      if ((!existing || existing.key !== key) && (await tx.presets.get(userId, key))) return false;
      const previewImage = preview.kind === 'image' ? preview.dataUrl : preview.kind === 'keep' && existing ? existing.previewImage : PREVIEW_PLACEHOLDER;
      const preset: PresetRecord = { key, title: p.title, author: userId, description: p.description, previewImage, isStarred: p.isStarred, paramMap: p.paramMap };
      // A rename moves the preset to the end of the list, even one that only changes letter case: as in the
      // reference, any `editing` that is not exactly the new title is a rename (docs/COMPATIBILITY.md#preset-order).
      const rename = p.editing !== p.title;
      return (existing && (await tx.presets.replace(userId, existing.key, preset, rename))) || (await tx.presets.insert(userId, preset));
    }, TransactionScope.user(userId));
    if (saved) {
      bumpModelEditId();
      await this.changed(userId);
    }
    return saved ? null : PRESET_FAIL.exists;
  }

  /**
   * Copies a preset as `<title> (n)` with the smallest free n >= 2, appended to the list; null when there is no
   * such preset. Safe when several copies run at once: a name taken between the check and the insert is retried
   * with the next number.
   */
  async duplicate(userId: string, title: string): Promise<PresetRecord | null> {
    const source = await this.get(userId, title);
    if (!source) return null;
    const taken = new Set((await this.presets.list(userId)).map((p) => p.key));
    for (let n = 2; ; n++) {
      const copyTitle = `${source.title} (${n})`;
      const key = presetKey(copyTitle);
      if (taken.has(key)) continue;
      const copy: PresetRecord = { ...source, key, title: copyTitle, author: userId, paramMap: { ...source.paramMap } };
      if (await this.presets.insert(userId, copy)) {
        await this.changed(userId);
        return copy;
      }
      taken.add(key);
    }
  }

  /** False when there was no such preset. */
  async delete(userId: string, title: string): Promise<boolean> {
    const deleted = await this.presets.delete(userId, presetKey(title));
    if (deleted) await this.changed(userId);
    return deleted;
  }

  /**
   * The links from models to presets, `{"<model type>": {"<model name>": ["<preset title>", ...]}}`; kept in
   * memory until they change anywhere. Callers must not modify the answer.
   */
  links(userId: string): Promise<unknown> {
    return this.linkCache.get(userId, async () => parseJson(await this.data.get(userId, PRESET_LINKS, 'full'), {}));
  }

  async setLinks(userId: string, links: Readonly<Record<string, unknown>>): Promise<void> {
    await this.data.set(userId, PRESET_LINKS, 'full', exactJson(links));
    await this.changed(userId);
  }
}
