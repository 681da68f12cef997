// Secrets at rest (users' upstream API keys): AES-256-GCM with a random 96-bit IV per value, stored as
// `scbox1:<base64 iv>:<base64 ciphertext>:<base64 tag>`. The key is never in the database: it comes from
// SWARMCORE_SECRET_KEY (base64 of 32 bytes) or from `<dataDir>/secret.key`, made on first start (mode 0600).
// Several instances on one PostgreSQL database must share the key (the same variable or a copy of the file).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { restrictDataDir } from './files.js';

export const SECRET_KEY_FILE = 'secret.key';
export const SECRET_KEY_ENV = 'SWARMCORE_SECRET_KEY';
const PREFIX = 'scbox1:';
const KEY_BYTES = 32;
const IV_BYTES = 12;

export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`A secret key is ${KEY_BYTES} bytes, not ${key.length}`);
  }

  /** Whether a stored value is sealed (anything else is legacy plain text). */
  isSealed(stored: string): boolean {
    return stored.startsWith(PREFIX);
  }

  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${iv.toString('base64')}:${body.toString('base64')}:${cipher.getAuthTag().toString('base64')}`;
  }

  /** The plain text of a stored value; legacy plain text comes back as it is. Throws when the key is wrong. */
  open(stored: string): string {
    if (!this.isSealed(stored)) return stored;
    const [iv, body, tag] = stored.slice(PREFIX.length).split(':');
    if (iv === undefined || body === undefined || tag === undefined) throw new Error('A sealed value is damaged');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error(`A sealed value cannot be opened with this secret key: every instance must use the same ${SECRET_KEY_ENV} or ${SECRET_KEY_FILE}`);
    }
  }
}

/** The key in SWARMCORE_SECRET_KEY, or null when the variable is not set. */
export function secretBoxFromEnv(env: NodeJS.ProcessEnv = process.env): SecretBox | null {
  const fromEnv = env[SECRET_KEY_ENV];
  if (fromEnv === undefined || fromEnv.trim() === '') return null;
  const key = Buffer.from(fromEnv.trim(), 'base64');
  if (key.length !== KEY_BYTES) throw new Error(`${SECRET_KEY_ENV} must be the base64 of ${KEY_BYTES} random bytes (e.g. openssl rand -base64 32)`);
  return new SecretBox(key);
}

/** The key in an existing key file (the form of `<dataDir>/secret.key`: base64 of 32 bytes). */
export function readSecretKeyFile(file: string): SecretBox {
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== KEY_BYTES) throw new Error(`${file} does not hold a ${KEY_BYTES}-byte base64 key`);
  return new SecretBox(key);
}

/** The key from SWARMCORE_SECRET_KEY, else from `<dataDir>/secret.key` (created owner-only when missing). */
export function loadSecretBox(dataDir: string, env: NodeJS.ProcessEnv = process.env): SecretBox {
  const fromEnv = secretBoxFromEnv(env);
  if (fromEnv) return fromEnv;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  restrictDataDir(dataDir);
  const file = path.join(dataDir, SECRET_KEY_FILE);
  try {
    // 'wx': of several processes starting at once exactly one creates the key; the others read it.
    writeFileSync(file, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  chmodSync(file, 0o600);
  let text = readFileSync(file, 'utf8').trim();
  // A process that lost the creation race may read before the winner's write lands.
  for (let i = 0; text === '' && i < 50; i++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    text = readFileSync(file, 'utf8').trim();
  }
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES) throw new Error(`${file} does not hold a ${KEY_BYTES}-byte base64 key`);
  return new SecretBox(key);
}
