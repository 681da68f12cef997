// Passwords are stored as argon2id over the form the client sends (docs/COMPATIBILITY.md#client-form,
// docs/COMPATIBILITY.md#d6: the browser's SHA-256 prehash, or `__swarmdoprehash:` that the server resolves).
// Reference `swarmpw_v1:` PBKDF2 hashes still verify and are reported for upgrade. Hashing runs on libuv's thread
// pool, never on the event loop.
import { hash as argonHash, verify as argonVerify, type Algorithm } from '@node-rs/argon2';
import { createHash, pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

// Algorithm.Argon2id is a const enum (2), which isolated modules cannot read.
export const ARGON2_OPTIONS = { algorithm: 2 as Algorithm, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
const DO_PREHASH = '__swarmdoprehash:';

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The client form: what a browser sends at login for this plain password. */
export function clientPrehash(userId: string, plainPassword: string): string {
  return sha256Hex(`swarmclientpw:${userId}:${plainPassword}`);
}

/** Resolves the `__swarmdoprehash:` fallback to the same form the browser computes itself. */
export function resolveClientForm(password: string): string {
  return password.startsWith(DO_PREHASH) ? sha256Hex(password.slice(DO_PREHASH.length)) : password;
}

export async function hashPassword(clientPassword: string): Promise<string> {
  return argonHash(resolveClientForm(clientPassword), ARGON2_OPTIONS);
}

export interface VerifyResult {
  ok: boolean;
  /** True when the stored hash is the reference's format and should be replaced by argon2id. */
  needsUpgrade: boolean;
}

/** A real argon2id hash of a random string, verified against for unknown users so they cost the same time. */
let dummyHash: Promise<string> | undefined;
export function dummyVerify(password: string): Promise<VerifyResult> {
  dummyHash ??= argonHash(sha256Hex(String(Math.random())), ARGON2_OPTIONS);
  return dummyHash.then((h) => verifyPassword('', password, h)).then(() => ({ ok: false, needsUpgrade: false }));
}

export async function verifyPassword(userId: string, clientPassword: string, stored: string): Promise<VerifyResult> {
  if (stored === '') return { ok: false, needsUpgrade: false };
  const form = resolveClientForm(clientPassword);
  if (stored.startsWith('$argon2')) {
    try {
      return { ok: await argonVerify(stored, form), needsUpgrade: false };
    } catch {
      return { ok: false, needsUpgrade: false };
    }
  }
  return { ok: await verifyReferenceHash(userId, form, stored), needsUpgrade: true };
}

/** `swarmpw_v1:<b64 salt>:<b64 hash>` (or the legacy form without the prefix): PBKDF2-SHA256, 10,000 rounds. */
async function verifyReferenceHash(userId: string, form: string, stored: string): Promise<boolean> {
  let rest = stored;
  if (stored.startsWith('swarmpw_')) {
    const colon = stored.indexOf(':');
    if (stored.slice(0, colon) !== 'swarmpw_v1') return false;
    rest = stored.slice(colon + 1);
  }
  const [saltB64, hashB64] = rest.split(':');
  if (!saltB64 || !hashB64) return false;
  const expected = Buffer.from(hashB64, 'base64');
  const actual = await pbkdf2Async(Buffer.from(`*SwarmHashedPw:${userId}:${form}*`, 'utf8'), Buffer.from(saltB64, 'base64'), 10000, 32, 'sha256');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
