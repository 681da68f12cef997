// Sessions are stored, cached and announced by their session key, the SHA-256 of the id the client holds: a
// copied database, a NOTIFY payload or a log line never carries an id that works. The one place this is computed.
import { hash } from 'node:crypto';

export function sessionKey(rawId: string): string {
  // The one-shot form: no Hash object per call (it runs on every API call that carries a session id).
  return hash('sha256', rawId, 'hex');
}
