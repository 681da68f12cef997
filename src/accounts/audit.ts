// The audit log (docs/COMPATIBILITY.md#d30): administrative actions and login results, kept in the store for
// `UserAuthorization.AuditLogDays`. An entry says who, when, from which address, what and on whom, with a small
// JSON detail; it never holds a password, prehash, token or session id (details are filtered here as a last line).
import type { AuditRecord, Store } from '../store/types.js';

export type { AuditRecord } from '../store/types.js';

/** What a caller records; `at` and the bounds are applied here. */
export interface AuditEntry {
  userId: string | null;
  /** Login records only: the name as typed. */
  attemptedName?: string | null;
  address: string;
  action: string;
  target?: string | null;
  detail?: Record<string, unknown>;
}

/** The address recorded for the command line. */
export const CLI_ADDRESS = 'cli';
/** Longest attempted name, address or target kept. */
const MAX_TEXT = 100;
/** Longest detail kept, as JSON text. */
const MAX_DETAIL = 2000;
/** Detail keys never recorded, whatever a caller passes (a key named so, or ending in `.name`/`_name` so). */
const SECRET_KEY = /(^|[._])(password|prehash|token|session_?id|secret|cookie|api_?key)$/i;
export const MAX_AUDIT_LIST = 1000;

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Text as recorded: control characters dropped, at most MAX_TEXT characters. */
function bounded(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '');
  return clean.length > MAX_TEXT ? `${clean.slice(0, MAX_TEXT)}...` : clean;
}

function scrub(value: unknown, depth = 0): unknown {
  if (depth > 4) return '...';
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => scrub(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!SECRET_KEY.test(k)) out[k] = scrub(v, depth + 1);
    return out;
  }
  if (typeof value === 'string' && value.length > 200) return `${value.slice(0, 200)}...`;
  return value;
}

export class AuditService {
  constructor(private readonly store: Store) {}

  async record(e: AuditEntry): Promise<void> {
    let detail = scrub(e.detail ?? {}) as Record<string, unknown>;
    if (JSON.stringify(detail).length > MAX_DETAIL) detail = { truncated: true };
    await this.store.audit.insert({
      at: nowSeconds(),
      userId: e.userId,
      attemptedName: e.attemptedName === undefined || e.attemptedName === null ? null : bounded(e.attemptedName),
      address: bounded(e.address),
      action: e.action,
      target: e.target === undefined || e.target === null ? null : bounded(e.target),
      detail,
    });
  }

  /** Newest first; `limit` is capped at MAX_AUDIT_LIST. */
  list(query: { userId?: string; since?: number; before?: number; limit?: number }): Promise<AuditRecord[]> {
    const limit = Math.max(1, Math.min(MAX_AUDIT_LIST, Math.floor(query.limit ?? 100)));
    return this.store.audit.list({ ...query, limit });
  }

  /** Removes entries older than `days` days; returns how many. */
  prune(days: number): Promise<number> {
    return this.store.audit.prune(nowSeconds() - Math.max(0, days) * 86400);
  }
}
