// Sessions are stored, cached and announced by their session key: a copied database, a NOTIFY payload or a log line
// never carries an id that works. The one place this is computed.
//
// A session id is the hex of its creation time in milliseconds (SESSION_ID_TIME_DIGITS digits) followed by 40 hex
// digits of randomness (docs/COMPATIBILITY.md#d53). Its key keeps the time digits in front of the SHA-256 of the
// whole id, so the store's indexes on the key take new sessions at their end, in a few pages, instead of one page
// per session scattered over the whole index (which made each SQLite commit write a page per new session).
// Ids from before that change (40 hex digits, no time) are keyed by their plain SHA-256, as they were stored.
import { hash } from 'node:crypto';

export const SESSION_ID_TIME_DIGITS = 12;
export const SESSION_ID_RANDOM_BYTES = 20;
/** Length of a session id made now: the time digits and the random hex. */
export const SESSION_ID_LENGTH = SESSION_ID_TIME_DIGITS + 2 * SESSION_ID_RANDOM_BYTES;

/** The time digits a session id made at `ms` starts with. */
export function sessionIdTime(ms: number): string {
  return ms.toString(16).padStart(SESSION_ID_TIME_DIGITS, '0');
}

export function sessionKey(rawId: string): string {
  // The one-shot form: no Hash object per call (it runs on every API call that carries a session id).
  const digest = hash('sha256', rawId, 'hex');
  return rawId.length === SESSION_ID_LENGTH ? rawId.slice(0, SESSION_ID_TIME_DIGITS) + digest : digest;
}
