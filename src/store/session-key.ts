// Sessions are stored, cached and announced by their session key, the SHA-256 of the id the client holds: a
// copied database, a NOTIFY payload or a log line never carries an id that works. The one place this is computed.
import { createHash } from 'node:crypto';

export function sessionKey(rawId: string): string {
  return createHash('sha256').update(rawId, 'utf8').digest('hex');
}
