// User-id and file-name cleaning rules of the reference (docs/COMPATIBILITY.md#user-ids-and-account-names,
// docs/COMPATIBILITY.md#title-cleaning).

const STRICT_REMOVED = new Set(['<', '>', ':', '"', '\\', '|', '?', '*', '~', '&', '@', ';', '#', '$', '^', '.']);
// U+206D is included on purpose: the reference omits it only through a typo.
const INVISIBLE = /[\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB]/gu;
const RESERVED_PARTS = new Set(['con', 'prn', 'aux', 'nul', ...Array.from({ length: 10 }, (_, i) => `com${i}`), ...Array.from({ length: 10 }, (_, i) => `lpt${i}`)]);

/** The reference's StrictFilenameClean: safe relative path text, `/` kept as a folder separator. */
export function strictFilenameClean(input: string): string {
  let s = '';
  for (const ch of input.replace(/\\/g, '/')) {
    if (ch.charCodeAt(0) < 32 || STRICT_REMOVED.has(ch)) continue;
    s += ch;
  }
  s = s.replace(INVISIBLE, '');
  s = s.replace(/\/{2,}/g, '/').replace(/^\/+/, '').trim();
  return s
    .split('/')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => (RESERVED_PARTS.has(part.replace(/[A-Z]/g, (c) => c.toLowerCase())) ? `${part}_` : part))
    .join('/');
}

/** A user id as any lookup normalises it: strictly cleaned, without `/`, `_` when nothing is left. */
export function cleanUserId(input: string): string {
  const id = strictFilenameClean(input).replace(/\//g, '');
  return id === '' ? '_' : id;
}

/** An account name a person typed (Login, Register, CLI): only [A-Za-z0-9_], ASCII-lowercased. */
export function cleanAccountName(input: string): string {
  return input.replace(/[^A-Za-z0-9_]/g, '').toLowerCase();
}

/** Names nobody may register for themselves. */
export const RESERVED_USER_NAMES: ReadonlySet<string> = new Set([
  'shared', 'local', 'admin', 'owner', 'moderator', 'user', 'users', 'poweruser', 'guest', 'guests',
  'registered', 'login', 'account', 'system', 'root', 'role', 'roles', 'tracked', 'permission', 'permissions',
]);
