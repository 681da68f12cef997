// The one place that writes Set-Cookie: API handlers (through ResponseControl) and the web pages use it alike.
import type { ServerResponse } from 'node:http';
import type { CookieOptions, RequestInfo, ResponseControl } from '../api/route.js';

const EXPIRED = 'Thu, 01 Jan 1970 00:00:00 GMT';

/** Cookies on a response (none for a WebSocket call); `Secure` whenever the request came over TLS. */
class CookieControl implements ResponseControl {
  constructor(
    private readonly res: ServerResponse | null,
    private readonly info: RequestInfo,
  ) {}

  setCookie(name: string, value: string, o: CookieOptions): void {
    const expires = new Date(Date.now() + o.maxAgeSeconds * 1000).toUTCString();
    this.add(`${name}=${value}; Expires=${expires}; Max-Age=${o.maxAgeSeconds}${this.tail(o.path, o.httpOnly !== false)}`);
  }

  clearCookie(name: string, path?: string): void {
    this.add(`${name}=; Expires=${EXPIRED}; Max-Age=0${this.tail(path, true)}`);
  }

  private add(cookie: string): void {
    if (!this.res) return;
    const prev = this.res.getHeader('Set-Cookie');
    this.res.setHeader('Set-Cookie', [...(Array.isArray(prev) ? prev : prev ? [String(prev)] : []), cookie]);
  }

  private tail(path: string | undefined, httpOnly: boolean): string {
    return `; Path=${path ?? '/'}; SameSite=Lax${httpOnly ? '; HttpOnly' : ''}${this.info.secure ? '; Secure' : ''}`;
  }
}

/** A call's cookie writer: one small object, made for every API call. */
export function cookieControl(res: ServerResponse | null, info: RequestInfo): ResponseControl {
  return new CookieControl(res, info);
}
