// One canonical form of a request path, computed once before any check looks at it, so that no spelling of a
// path (percent-encoding, repeated or encoded slashes, dot segments, backslashes) reaches a file a check forbids.
// API paths are not files: their route name is only ever a key of the route registry (apiRouteKey).

/**
 * The decoded path with `\` as `/`, repeated slashes collapsed and `.`/`..` segments resolved (never above the
 * root); null when it cannot be decoded or holds a NUL.
 */
export function canonicalPath(rawPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const segments: string[] = [];
  const parts = decoded.replace(/\\/g, '/').split('/');
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') segments.pop();
    else segments.push(part);
  }
  const trailing = parts.length > 1 && (parts[parts.length - 1] === '' || parts[parts.length - 1] === '.' || parts[parts.length - 1] === '..') && segments.length > 0;
  return `/${segments.join('/')}${trailing ? '/' : ''}`;
}

/** The canonical path as a URL path again: every segment percent-encoded, so decoding it gives the same segments. */
export function encodePath(canonical: string): string {
  return canonical.split('/').map(encodeURIComponent).join('/');
}

/**
 * The ASCII-lower-cased route name of an `/API/<name>` request path, or null when the path is not an API call
 * (docs/COMPATIBILITY.md#route-names). Percent-escapes are decoded first, as the reference's web server does, so
 * `/API/Get%4EewSession` is GetNewSession; `%2F` stays as written (an encoded slash never becomes a separator) and
 * so does an escape that is not valid UTF-8. The name is only looked up in the route registry: one holding `/`,
 * `%`, control characters or anything else no route name has is an unknown route, never a page or a file.
 */
export function apiRouteKey(rawPath: string): string | null {
  // Clients call a handful of paths over and over: the answer is kept per path string, in a bounded cache.
  const known = routeKeys.get(rawPath);
  if (known !== undefined) return known;
  const key = computeRouteKey(rawPath);
  if (routeKeys.size >= ROUTE_KEY_CACHE_MAX) routeKeys.clear();
  if (rawPath.length <= 256) routeKeys.set(rawPath, key);
  return key;
}

/** At most this many paths are kept; then the cache starts over (a client sending new paths only refills it). */
const ROUTE_KEY_CACHE_MAX = 512;
const routeKeys = new Map<string, string | null>();

function computeRouteKey(rawPath: string): string | null {
  const path = rawPath.includes('%') ? decodeEscapes(rawPath) : rawPath;
  const lower = path.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return lower.startsWith('/api/') ? lower.slice(5) : null;
}

/** Decodes every run of percent-escapes but `%2F`; a run that is not valid UTF-8 stays as written. */
function decodeEscapes(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) =>
    // 0x2F is never part of a multi-byte UTF-8 sequence, so splitting there keeps every character whole.
    run
      .split(/(%2[fF])/)
      .map((part) => (part === '' || /^%2[fF]$/.test(part) ? part : decodeOrKeep(part)))
      .join(''),
  );
}

function decodeOrKeep(escapes: string): string {
  try {
    return decodeURIComponent(escapes);
  } catch {
    return escapes;
  }
}
