// Upstream API keys a user may store (docs/COMPATIBILITY.md#api-keys-and-generic-data, docs/COMPATIBILITY.md#d25):
// the server's own allow-list plus the UI registry that drives the User tab's rows (extensions add rows through
// `addApiKeyType`), and the service that keeps each user's keys. Keys are never logged and never returned.
import { TransactionScope, type GenericDataStore, type Store } from '../store/types.js';
import { localTimestamp } from '../util/local-time.js';

export interface ApiKeyType {
  /** The `keyType` value of SetAPIKey / GetAPIKeyStatus, e.g. `civitai_api`. */
  keyType: string;
  /** The service's name, as the user page shows it. */
  title: string;
  /** Where a person creates such a key. */
  createLink: string;
}

/** Key types accepted even without a UI row (the reference's fixed list). */
export const SERVER_KEY_TYPES: readonly string[] = ['stability_api', 'civitai_api', 'huggingface_api'];

// prettier-ignore
const BUILT_IN: ApiKeyType[] = [
  { keyType: 'civitai_api', title: 'Civitai', createLink: 'https://civitai.com/user/account' },
  { keyType: 'huggingface_api', title: 'Hugging Face', createLink: 'https://huggingface.co/settings/tokens' },
];

export class ApiKeyRegistry {
  private readonly byType = new Map<string, ApiKeyType>();

  constructor() {
    BUILT_IN.forEach((k) => this.add(k));
  }

  add(type: ApiKeyType): void {
    if (this.byType.has(type.keyType)) throw new Error(`API key type '${type.keyType}' is registered twice`);
    this.byType.set(type.keyType, type);
  }

  /** The UI rows, in registration order. */
  all(): ApiKeyType[] {
    return [...this.byType.values()];
  }

  /** Whether SetAPIKey accepts this type: the server list or any registered row. */
  accepts(keyType: string): boolean {
    return SERVER_KEY_TYPES.includes(keyType) || this.byType.has(keyType);
  }

  /** Every type SetAPIKey accepts: the server list, then the registered rows' other types. */
  acceptedTypes(): string[] {
    return [...new Set([...SERVER_KEY_TYPES, ...this.byType.keys()])];
  }
}

/** Each user's stored keys, in the reference's generic-data layout (`<keyType>`/`key` and `key_last_updated`). */
export class ApiKeyService {
  private readonly data: GenericDataStore;

  constructor(
    private readonly store: Pick<Store, 'genericData' | 'transaction'>,
    /** The key types and their UI rows. */
    readonly types: ApiKeyRegistry,
  ) {
    this.data = store.genericData;
  }

  /** Stores the key and the server-local time it was set, together: a reader never sees one without the other. */
  async set(userId: string, keyType: string, key: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      await tx.genericData.set(userId, keyType, 'key', key);
      await tx.genericData.set(userId, keyType, 'key_last_updated', localTimestamp());
    }, TransactionScope.user(userId));
  }

  async remove(userId: string, keyType: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      await tx.genericData.delete(userId, keyType, 'key');
      await tx.genericData.delete(userId, keyType, 'key_last_updated');
    }, TransactionScope.user(userId));
  }

  /** When the key was last set (`YYYY-MM-DD HH:MM`, server time), or null when none is stored. */
  async lastUpdated(userId: string, keyType: string): Promise<string | null> {
    const updated = await this.data.get(userId, keyType, 'key_last_updated');
    return updated === null || updated.trim() === '' ? null : updated;
  }
}
