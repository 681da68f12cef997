// Pages and their redirects (reference/01 §1.3). Each page is an HTML file in web/pages; this decides which one
// a request gets, and fills its `<!--swarmcore:head-->` marker with the theme stylesheets and a JSON block of
// what the page needs before any API call (settings such as the login notice, the translation of its texts).
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Core } from '../core.js';
import type { RequestInfo } from '../api/route.js';
import { TOKEN_COOKIE } from '../accounts/login-tokens.js';
import { WEB_ROOT } from '../http/static.js';
import { loadCatalog } from '../install/catalog.js';
import type { Theme } from './themes.js';

/** The cookie the web UI keeps the chosen theme in (reference/02 §4). */
export const THEME_COOKIE = 'sui_theme_id';
/** The cookie the web UI keeps the chosen display language in. */
export const LANGUAGE_COOKIE = 'display_language';
const HEAD_MARKER = '<!--swarmcore:head-->';

// Scripts only from this server, no inline script; the page-data block is JSON, never executed.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');

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

/** The explanation pages: one file, web/pages/error.html, with a section per error; the others are removed. */
const ERROR_PAGES: Record<string, { status: number; section: string }> = {
  '/error/404': { status: 404, section: '404' },
  '/error/internal': { status: 500, section: 'internal' },
  '/error/basicapi': { status: 200, section: 'basicapi' },
  '/error/nogetapi': { status: 200, section: 'nogetapi' },
  '/error/permissions': { status: 200, section: 'permissions' },
};

const showSection =
  (id: string) =>
  (html: string): string =>
    html.replace(/ *<section [^>]*data-error="([^"]+)"[^>]*?( hidden)?>[\s\S]*?<\/section>\n?/g, (section, which: string) => (which === id ? section.replace(/ hidden>/, '>') : ''));

function themeJson(t: Theme): Record<string, unknown> {
  return { id: t.id, name: t.name, is_dark: t.isDark, css_paths: t.cssPaths };
}

/** The theme a page opens with: the browser's remembered choice, else the server default, else the first one. */
function pageTheme(core: Core, info: RequestInfo): Theme {
  return core.themes.get(info.cookies[THEME_COOKIE] ?? '') ?? core.themes.get(core.settings.string('DefaultUser.Theme')) ?? core.themes.all()[0]!;
}

function pageLanguage(core: Core, info: RequestInfo): string {
  for (const code of [info.cookies[LANGUAGE_COOKIE], core.settings.string('DefaultUser.Language')]) {
    if (code && (code === 'en' || core.languages.get(code))) return code;
  }
  return 'en';
}

/** Languages for pickers: en, zh and ja first (as SwarmUI's pickers), then the rest by code. */
function languageList(core: Core): Array<{ code: string; name: string; local_name: string }> {
  const codes = new Set(['en', ...core.languages.codes()]);
  const first = ['en', 'zh', 'ja'].filter((c) => codes.has(c));
  return [...first, ...[...codes].filter((c) => !first.includes(c)).sort()].map((code) => {
    const l = core.languages.get(code);
    return { code, name: l?.name ?? 'English', local_name: l?.localName ?? 'English' };
  });
}

async function pageData(core: Core, info: RequestInfo, page: string, theme: Theme, language: string): Promise<Record<string, unknown>> {
  const s = core.settings;
  const data: Record<string, unknown> = {
    page,
    instance_title: s.string('UserAuthorization.InstanceTitle'),
    version: core.version,
    theme: themeJson(theme),
    language,
    translations: core.languages.get(language)?.keys ?? {},
    languages: languageList(core),
    accounts_required: s.bool('UserAuthorization.AuthorizationRequired'),
  };
  if (page === 'login') {
    data.login_notice = s.string('UserAuthorization.LoginNotice');
    data.allow_password_login = s.bool('UserAuthorization.AllowSimplePasswordLogin');
    data.allow_registration = s.bool('UserAuthorization.Registration.AllowRegistration') && s.bool('UserAuthorization.Registration.SimplePasswordRegistration');
  } else if (page === 'register') {
    data.register_notice = s.string('UserAuthorization.Registration.RegisterNotice');
    data.allow_password_registration = s.bool('UserAuthorization.Registration.SimplePasswordRegistration');
  } else if (page === 'install') {
    data.themes = core.themes.all().map(themeJson);
    data.default_theme = core.themes.get(s.string('DefaultUser.Theme')) ? s.string('DefaultUser.Theme') : core.themes.all()[0]!.id;
    try {
      const catalog = await loadCatalog(s.string('Install.ModelCatalog'), core.dataDir);
      data.models = catalog.map((m) => ({ id: m.id, name: m.name, description: m.description, size: m.size, default: m.default }));
    } catch (err) {
      data.models = [];
      data.models_error = (err as Error).message;
    }
  } else if (page === 'main') {
    data.can_logout = data.accounts_required === true && (await core.loginTokens.validate(info.cookies[TOKEN_COOKIE])) !== null;
  }
  return data;
}

/** JSON that is safe inside a `<script type="application/json">` block. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const escapeAttr = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** Sends web/pages/<page>.html with its head filled in. */
async function sendPage(core: Core, req: IncomingMessage, res: ServerResponse, info: RequestInfo, page: string, status = 200, fill: (html: string) => string = (h) => h): Promise<boolean> {
  let html: string;
  try {
    html = await readFile(path.join(WEB_ROOT, 'pages', `${page}.html`), 'utf8');
  } catch {
    return false;
  }
  const theme = pageTheme(core, info);
  const language = pageLanguage(core, info);
  const links = theme.cssPaths.map((p) => `<link rel="stylesheet" href="/${escapeAttr(p)}" data-theme-sheet>`).join('');
  const data = `<script type="application/json" id="page-data">${scriptJson(await pageData(core, info, page, theme, language))}</script>`;
  html = fill(html)
    .replace(HEAD_MARKER, () => links + data)
    .replace('<html lang="en">', () => `<html lang="${escapeAttr(language)}" data-theme="${escapeAttr(theme.id)}" class="${theme.isDark ? 'theme-dark' : 'theme-light'}">`);
  const body = Buffer.from(html, 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
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
      else return sendPage(core, req, res, info, 'main');
      return true;
    case '/install':
      if (installed) redirect(res, 'Text2Image');
      else return sendPage(core, req, res, info, 'install');
      return true;
    case '/login':
      if (await hasValidLogin(core, info)) redirect(res, 'Text2Image');
      else return sendPage(core, req, res, info, 'login');
      return true;
    case '/register':
      if (await hasValidLogin(core, info)) redirect(res, 'Text2Image');
      else if (!core.settings.bool('UserAuthorization.Registration.AllowRegistration')) redirect(res, 'Login');
      else return sendPage(core, req, res, info, 'register');
      return true;
  }
  const errorPage = ERROR_PAGES[lower];
  if (errorPage) return sendPage(core, req, res, info, 'error', errorPage.status, showSection(errorPage.section));
  // Page files are reachable only through their routes above, with their head filled in.
  if (lower.startsWith('/pages/')) {
    redirect(res, '/Error/404');
    return true;
  }
  return false;
}
