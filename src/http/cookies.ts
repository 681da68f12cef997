// The one place that writes Set-Cookie: API handlers (through ResponseControl) and the web pages use it alike.
import type { ServerResponse } from 'node:http';
import type { CookieOptions, RequestInfo, ResponseControl } from '../api/route.js';

const EXPIRED = 'Thu, 01 Jan 1970 00:00:00 GMT';

/** Cookies on a response (none for a WebSocket call); `Secure` whenever the request came over TLS. */
export function cookieControl(res: ServerResponse | null, info: RequestInfo): ResponseControl {
  const add = (cookie: string): void => {
    if (!res) return;
    const prev = res.getHeader('Set-Cookie');
    res.setHeader('Set-Cookie', [...(Array.isArray(prev) ? prev : prev ? [String(prev)] : []), cookie]);
  };
  const tail = (path: string | undefined, httpOnly: boolean): string => `; Path=${path ?? '/'}; SameSite=Lax${httpOnly ? '; HttpOnly' : ''}${info.secure ? '; Secure' : ''}`;
  return {
    setCookie(name: string, value: string, o: CookieOptions) {
      const expires = new Date(Date.now() + o.maxAgeSeconds * 1000).toUTCString();
      add(`${name}=${value}; Expires=${expires}; Max-Age=${o.maxAgeSeconds}${tail(o.path, o.httpOnly !== false)}`);
    },
    clearCookie(name: string, path?: string) {
      add(`${name}=; Expires=${EXPIRED}; Max-Age=0${tail(path, true)}`);
    },
  };
}
