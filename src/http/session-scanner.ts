// Finds the top-level `session_id` of a JSON body as its bytes arrive, without keeping the body: SwarmUI's
// browser client sends session_id as the last key, after any large value, so it must be found in a stream.
import { SESSION_ID_SCAN_MAX_BYTES } from './limits.js';

export type ScanVerdict =
  /** The top-level session_id is this string. */
  | { kind: 'id'; id: string }
  /** The top-level session_id is not a string, or too long to be a session id: no session can match it. */
  | { kind: 'not_a_session' }
  /** The top-level object ended without a session_id. */
  | { kind: 'absent' }
  /** The body does not start with an object. */
  | { kind: 'not_object' };

/** Longest raw key worth decoding: "session_id" written entirely as \u escapes. */
const KEY_MAX_BYTES = 6 * 'session_id'.length;

/**
 * A byte-level scanner that tracks only strings, escapes and nesting depth. It does not validate the JSON (the
 * parser does that later); it only has to agree with JSON.parse on the top-level session_id of a valid body.
 */
export class SessionIdScanner {
  private started = false;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** At depth 1: a key comes next (after '{' or ','), not a value. */
  private expectKey = false;
  /** Raw bytes of the string being captured (a top-level key, or the session_id value), else null. */
  private capture: number[] | null = null;
  private captureLimit = 0;
  private captureIsKey = false;
  /** The last top-level key was session_id and its value has not started yet. */
  private sessionValueNext = false;
  private bomSkipped = 0;

  /** Feeds the next bytes; a verdict as soon as one is certain, else null. */
  feed(chunk: Buffer): ScanVerdict | null {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.inString) {
        if (this.capture) {
          if (!this.escaped && c === 0x22) {
            const verdict = this.endCapture();
            if (verdict) return verdict;
            this.inString = false;
            continue;
          }
          if (this.capture.length >= this.captureLimit) {
            if (!this.captureIsKey) return { kind: 'not_a_session' };
            this.capture = null; // a long key is not session_id; keep skipping the string
          } else this.capture.push(c);
        }
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) this.inString = false;
        continue;
      }
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
      if (!this.started) {
        if (this.bomSkipped < 3 && c === [0xef, 0xbb, 0xbf][this.bomSkipped]) {
          this.bomSkipped++;
          continue;
        }
        if (c !== 0x7b) return { kind: 'not_object' };
        this.started = true;
        this.depth = 1;
        this.expectKey = true;
        continue;
      }
      if (this.depth === 1 && this.sessionValueNext && c !== 0x3a) {
        this.sessionValueNext = false;
        if (c !== 0x22) return { kind: 'not_a_session' };
        this.startString(false, SESSION_ID_SCAN_MAX_BYTES);
        continue;
      }
      if (c === 0x22) {
        if (this.depth === 1 && this.expectKey) this.startString(true, KEY_MAX_BYTES);
        else this.inString = true;
      } else if (c === 0x7b || c === 0x5b) this.depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (--this.depth === 0) return { kind: 'absent' };
      } else if (this.depth === 1) {
        if (c === 0x2c) this.expectKey = true;
        else if (c === 0x3a) this.expectKey = false;
      }
    }
    return null;
  }

  private startString(isKey: boolean, limit: number): void {
    this.inString = true;
    this.escaped = false;
    this.capture = [];
    this.captureLimit = limit;
    this.captureIsKey = isKey;
  }

  /** The captured string is complete: decode it exactly as JSON.parse would. */
  private endCapture(): ScanVerdict | null {
    const raw = Buffer.from(this.capture!).toString('utf8');
    this.capture = null;
    let text: string | null = null;
    try {
      text = JSON.parse(`"${raw}"`) as string;
    } catch {
      text = null; // invalid escapes: the parser will refuse the body
    }
    if (this.captureIsKey) {
      this.expectKey = false;
      this.sessionValueNext = text === 'session_id';
      return null;
    }
    return text === null ? { kind: 'not_a_session' } : { kind: 'id', id: text };
  }
}
