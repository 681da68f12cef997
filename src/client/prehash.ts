// The client-side password form the login page sends (docs/COMPATIBILITY.md, the client form): the lower-case
// hex SHA-256 of `swarmclientpw:<user id>:<password>` through Web Crypto, or, where there is no Web Crypto (a
// browser page on plain HTTP away from localhost), the same text behind `__swarmdoprehash:` for the server to
// hash. Runs in browsers and in Node 20 alike: only globals, no Node modules.

/** An account name as the server stores it: only letters, digits and `_`, lower-cased. */
export function cleanUserId(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '').toLowerCase();
}

interface Digest {
  digest(algorithm: 'SHA-256', data: Uint8Array): Promise<ArrayBuffer>;
}

/** The password as Login, RegisterBasic and ChangePassword expect it, for the account `userName`. */
export async function prehashPassword(userName: string, password: string): Promise<string> {
  const text = `swarmclientpw:${cleanUserId(userName)}:${password}`;
  const subtle = (globalThis as { crypto?: { subtle?: Digest } }).crypto?.subtle;
  if (!subtle) return `__swarmdoprehash:${text}`;
  const digest = await subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
