// Pages and their redirects (reference/01 §1.3). The pages themselves are static files in web/; this decides
// which one a request gets.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from '../core.js';
import type { RequestInfo } from '../api/route.js';
import { TOKEN_COOKIE } from '../accounts/login-tokens.js';
import { serveStatic } from '../http/static.js';

function redirect(res: ServerResponse, location: string): void {
  res.statusCode = 302;
  res.setHeader('Location', location);
  res.setHeader('Content-Length', 0);
  res.end();
}

/** Whether the request carries a login that would let it open the UI (always true with accounts off). */
export async function hasValidLogin(core: Core, info: RequestInfo): Promise<boolean> {
  if (!core.settings.bool('UserAuthorization.AuthorizationRequired')) return true;
  if (info.localhostBypass) return true;
  return (await core.loginTokens.validate(info.cookies[TOKEN_COOKIE])) !== null;
}

const ERROR_PAGES: Record<string, { status: number; file: string }> = {
  '/error/404': { status: 404, file: '/pages/error-404.html' },
  '/error/internal': { status: 500, file: '/pages/error-internal.html' },
  '/error/basicapi': { status: 200, file: '/pages/error-basicapi.html' },
  '/error/nogetapi': { status: 200, file: '/pages/error-nogetapi.html' },
  '/error/permissions': { status: 200, file: '/pages/error-permissions.html' },
};

async function page(req: IncomingMessage, res: ServerResponse, file: string, status = 200): Promise<boolean> {
  const served = await serveStatic(req, res, file);
  if (served && status !== 200) res.statusCode = status;
  return served;
}

/** Handles page paths; false when the path is not a page. */
export async function handlePage(core: Core, req: IncomingMessage, res: ServerResponse, info: RequestInfo): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const pathname = (req.url ?? '/').split('?')[0]!;
  const lower = pathname.toLowerCase();
  const installed = core.settings.bool('IsInstalled');
  switch (lower) {
    case '/':
      redirect(res, 'Text2Image');
      return true;
    case '/text2image':
      if (!installed) redirect(res, 'Install');
      else if (!(await hasValidLogin(core, info))) redirect(res, 'Login');
      else return page(req, res, '/pages/main.html');
      return true;
    case '/install':
      if (installed) redirect(res, 'Text2Image');
      else return page(req, res, '/pages/install.html');
      return true;
    case '/login':
      if (await hasValidLogin(core, info)) redirect(res, 'Text2Image');
      else return page(req, res, '/pages/login.html');
      return true;
    case '/register':
      if (await hasValidLogin(core, info)) redirect(res, 'Text2Image');
      else if (!core.settings.bool('UserAuthorization.Registration.AllowRegistration')) redirect(res, 'Login');
      else return page(req, res, '/pages/register.html');
      return true;
  }
  const errorPage = ERROR_PAGES[lower];
  if (errorPage) return page(req, res, errorPage.file, errorPage.status);
  return false;
}
