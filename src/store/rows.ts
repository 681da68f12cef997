// Row mapping shared by the SQL stores: both keep the same columns, and differ only in how a boolean comes back
// (SQLite 0/1, PostgreSQL true/false), which `truthy` covers.
import type { LoginTokenRecord, PresetRecord, SessionRecord, UserRecord } from './types.js';

export type Row = Record<string, unknown>;

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
export const json = (v: unknown): string => JSON.stringify(v);
export function parseJson<T>(text: unknown, fallback: T): T {
  try {
    return typeof text === 'string' && text !== '' ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
}
const truthy = (v: unknown): boolean => v === true || v === 1;
const nullableText = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
export const ids = (rows: unknown[]): string[] => (rows as Row[]).map((r) => String(r.id));

export function userFromRow(r: Row): UserRecord {
  return {
    id: String(r.id),
    passwordHash: String(r.password_hash),
    passwordSetByAdmin: truthy(r.password_set_by_admin),
    roles: parseJson<string[]>(r.roles, []),
    settings: parseJson<Record<string, unknown>>(r.settings, {}),
    paramEdits: String(r.param_edits),
    createdAt: Number(r.created_at),
  };
}

/** User fields that `update` may change: column name and how the value is stored (`bool` per engine). */
export function userColumns(bool: (v: boolean) => unknown): Record<string, [string, (v: never) => unknown]> {
  return {
    passwordHash: ['password_hash', (v: string) => v],
    passwordSetByAdmin: ['password_set_by_admin', (v: boolean) => bool(v)],
    roles: ['roles', (v: string[]) => json(v)],
    settings: ['settings', (v: Record<string, unknown>) => json(v)],
    paramEdits: ['param_edits', (v: string) => v],
  };
}

export function sessionFromRow(r: Row): SessionRecord {
  return {
    id: String(r.id),
    userId: String(r.user_id),
    originAddress: String(r.origin_address),
    originToken: r.origin_token === null ? null : String(r.origin_token),
    impersonatedBy: nullableText(r.impersonated_by),
    createdAt: Number(r.created_at),
    lastActive: Number(r.last_active),
  };
}

export function tokenFromRow(r: Row): LoginTokenRecord {
  return {
    id: String(r.id),
    userId: String(r.user_id),
    validationHash: String(r.validation_hash),
    originAddress: String(r.origin_address),
    userAgent: String(r.user_agent),
    impersonatedBy: nullableText(r.impersonated_by),
    createdAt: Number(r.created_at),
    lastActive: Number(r.last_active),
  };
}

export function presetFromRow(r: Row): PresetRecord {
  return {
    key: String(r.key),
    title: String(r.title),
    author: String(r.author),
    description: String(r.description),
    previewImage: String(r.preview_image),
    isStarred: truthy(r.is_starred),
    paramMap: parseJson<Record<string, string>>(r.param_map, {}),
  };
}
