// One canonical form of a request path, computed once before any check looks at it, so that no spelling of a
// path (percent-encoding, repeated or encoded slashes, dot segments, backslashes) reaches a file a check forbids.

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
