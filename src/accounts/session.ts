// A live session: its persisted record plus the in-memory time of its last use. Its generation work is kept by
// the generation service (src/generation/service.ts), which sits above accounts.
import type { SessionRecord } from '../store/types.js';

export class Session {
  readonly id: string;
  readonly userId: string;
  readonly originAddress: string;
  readonly originToken: string | null;
  /** The user who opened it by impersonation; it ends when they lose manage_users. */
  readonly impersonatedBy: string | null;
  readonly createdAt: number;
  /** Unix seconds of the last call on this session. */
  lastUsed: number;
  /** Unix seconds last written to the store (refreshes are throttled). */
  persistedLastActive: number;

  constructor(record: SessionRecord) {
    this.id = record.id;
    this.userId = record.userId;
    this.originAddress = record.originAddress;
    this.originToken = record.originToken;
    this.impersonatedBy = record.impersonatedBy;
    this.createdAt = record.createdAt;
    this.lastUsed = record.lastActive;
    this.persistedLastActive = record.lastActive;
  }
}
