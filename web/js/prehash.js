// The client-side password form SwarmUI clients send (docs/COMPATIBILITY.md#client-form): the lowercase hex
// SHA-256 of `swarmclientpw:<user id>:<password>`, or, where the page has no WebCrypto (plain HTTP on a non-local
// address), the same text behind `__swarmdoprehash:` for the server to hash. The user id is always the cleaned,
// lower-cased account name, so the same password works whichever way the name was typed.

/** An account name as the server stores it: only letters, digits and `_`, lower-cased. */
export function cleanUserId(name) {
  return String(name).replace(/[^A-Za-z0-9_]/g, '').toLowerCase();
}

export async function prehashPassword(userName, password) {
  const text = `swarmclientpw:${cleanUserId(userName)}:${password}`;
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!subtle) return `__swarmdoprehash:${text}`;
  const digest = await subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
