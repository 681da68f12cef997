// Pages and their redirects (docs/COMPATIBILITY.md#pages, docs/COMPATIBILITY.md#d27). Each page is an HTML file in
// web/pages; this decides which one a request gets, and fills its `<!--swarmcore:head-->` marker with what every
// page's head shares, the theme stylesheets and a JSON block of what the page needs before any API call (settings
// such as the login notice, the translation of its texts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Services } from '../services.js';
import type { RequestInfo } from '../api/route.js';
import { TOKEN_COOKIE } from '../accounts/login-tokens.js';
import { validLogin } from '../accounts/request-user.js';
import { redirect } from '../http/respond.js';
import { cachedFile, WEB_ROOT } from '../http/static.js';
import { loadCatalog } from '../install/catalog.js';
import type { Theme } from '../themes/themes.js';
import type { SettingDef } from '../settings/server-settings.js';

/** The cookie the web UI keeps the chosen theme in (docs/COMPATIBILITY.md#themes). */
export const THEME_COOKIE = 'sui_theme_id';
/** The cookie the web UI keeps the chosen display language in. */
export const LANGUAGE_COOKIE = 'display_language';
const HEAD_MARKER = '<!--swarmcore:head-->';
/** The start of every page's head; the theme stylesheets follow it, so they override site.css. */
const SHARED_HEAD =
  '<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<link rel="icon" href="/imgs/swarmcore.svg" type="image/svg+xml">\n<link rel="stylesheet" href="/css/site.css">\n';

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

/**
 * What lets the request open the UI: a valid login token (`token`, which Logout can end), `open` when accounts
 * are off or the localhost bypass applies, or null. The token is checked once per page request.
 */
async function pageLogin(services: Services, info: RequestInfo): Promise<'token' | 'open' | null> {
  if (!services.settings.bool('UserAuthorization.AuthorizationRequired')) return 'open';
  if ((await validLogin(services, info.cookies[TOKEN_COOKIE])) !== null) return 'token';
  return info.localhostBypass ? 'open' : null;
}

/** The explanation pages, /Error/<section>, and their statuses: one file, web/pages/error.html, shows only that section. */
const ERROR_STATUS = new Map([
  ['404', 404],
  ['internal', 500],
  ['basicapi', 200],
  ['nogetapi', 200],
  ['permissions', 200],
]);

const showSection =
  (id: string) =>
  (html: string): string =>
    html.replace(/ *<section [^>]*data-error="([^"]+)"[^>]*?( hidden)?>[\s\S]*?<\/section>\n?/g, (section, which: string) => (which === id ? section.replace(/ hidden>/, '>') : ''));

function themeJson(t: Theme): Record<string, unknown> {
  return { id: t.id, name: t.name, is_dark: t.isDark, css_paths: t.cssPaths };
}

/** The server's default theme, else the first one registered. */
function defaultTheme(services: Services): Theme {
  return services.themes.get(services.settings.string('DefaultUser.Theme')) ?? services.themes.all()[0]!;
}

/** The theme a page opens with: the browser's remembered choice, else the default. */
function pageTheme(services: Services, info: RequestInfo): Theme {
  return services.themes.get(info.cookies[THEME_COOKIE] ?? '') ?? defaultTheme(services);
}

function pageLanguage(services: Services, info: RequestInfo): string {
  for (const code of [info.cookies[LANGUAGE_COOKIE], services.settings.string('DefaultUser.Language')]) {
    if (code && services.languages.offers(code)) return code;
  }
  return 'en';
}

/** Languages for pickers: en, zh and ja first (as SwarmUI's pickers), then the rest by code. */
function languageList(services: Services): Array<{ code: string; name: string; local_name: string }> {
  const codes = new Set(['en', ...services.languages.codes()]);
  const first = ['en', 'zh', 'ja'].filter((c) => codes.has(c));
  return [...first, ...[...codes].filter((c) => !first.includes(c)).sort()].map((code) => {
    const l = services.languages.get(code);
    return { code, name: l?.name ?? 'English', local_name: l?.localName ?? 'English' };
  });
}

/**
 * The ranges and restart needs of the server settings, keyed by lower-case dotted id, for the Server section's
 * inputs (docs/COMPATIBILITY.md#d42). Definitions only: no value is included.
 */
function settingRules(defs: readonly SettingDef[]): Record<string, { min?: number; max?: number; restart?: true }> {
  const rules: Record<string, { min?: number; max?: number; restart?: true }> = {};
  for (const def of defs) {
    if (def.min === undefined && def.max === undefined && def.restart !== true) continue;
    rules[def.key.toLowerCase()] = { ...(def.min !== undefined ? { min: def.min } : {}), ...(def.max !== undefined ? { max: def.max } : {}), ...(def.restart === true ? { restart: true as const } : {}) };
  }
  return rules;
}

async function pageData(services: Services, page: string, theme: Theme, language: string): Promise<Record<string, unknown>> {
  const s = services.settings;
  const data: Record<string, unknown> = {
    page,
    instance_title: s.string('UserAuthorization.InstanceTitle'),
    version: services.server.version,
    theme: themeJson(theme),
    language,
    translations: services.languages.get(language)?.keys ?? {},
    languages: languageList(services),
    accounts_required: s.bool('UserAuthorization.AuthorizationRequired'),
  };
  if (page === 'login') {
    data.login_notice = s.string('UserAuthorization.LoginNotice');
    data.allow_password_login = s.bool('UserAuthorization.AllowSimplePasswordLogin');
    const providers = services.oauth.providers();
    data.oauth_providers = providers;
    data.allow_registration =
      s.bool('UserAuthorization.Registration.AllowRegistration') && (s.bool('UserAuthorization.Registration.SimplePasswordRegistration') || (providers.length > 0 && services.oauth.registrationAllowed()));
  } else if (page === 'register') {
    data.register_notice = s.string('UserAuthorization.Registration.RegisterNotice');
    data.allow_password_registration = s.bool('UserAuthorization.Registration.SimplePasswordRegistration');
    // Provider buttons on the register page only with Registration.OAuthRegistration (docs/COMPATIBILITY.md#d47).
    data.oauth_providers = services.oauth.registrationAllowed() ? services.oauth.providers() : [];
  } else if (page === 'oauth') {
    data.register_notice = s.string('UserAuthorization.Registration.RegisterNotice');
  } else if (page === 'main') {
    data.setting_rules = settingRules(s.all());
  } else if (page === 'install') {
    data.themes = services.themes.all().map(themeJson);
    data.default_theme = defaultTheme(services).id;
    try {
      const catalog = await loadCatalog(s.string('Install.ModelCatalog'), services.server.dataDir);
      data.models = catalog.map((m) => ({ id: m.id, name: m.name, description: m.description, size: m.size, default: m.default }));
    } catch (err) {
      data.models = [];
      data.models_error = (err as Error).message;
    }
  }
  return data;
}

/** JSON that is safe inside a `<script type="application/json">` block. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const escapeAttr = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

interface PageOptions {
  status?: number;
  /** Changes the page's HTML before its head is filled in. */
  fill?: (html: string) => string;
  /** Added to the page-data block. */
  data?: Record<string, unknown>;
}

/** Sends web/pages/<page>.html (kept in memory, re-read when the file changes) with its head filled in. */
export async function sendPage(services: Services, req: IncomingMessage, res: ServerResponse, info: RequestInfo, page: string, { status = 200, fill = (h) => h, data: extra }: PageOptions = {}): Promise<boolean> {
  const file = await cachedFile(path.join(WEB_ROOT, 'pages', `${page}.html`));
  if (!file?.body) return false;
  const theme = pageTheme(services, info);
  const language = pageLanguage(services, info);
  const links = theme.cssPaths.map((p) => `<link rel="stylesheet" href="/${escapeAttr(p)}" data-theme-sheet>`).join('');
  const data = `<script type="application/json" id="page-data">${scriptJson({ ...(await pageData(services, page, theme, language)), ...extra })}</script>`;
  const html = fill(file.body.toString('utf8'))
    .replace(HEAD_MARKER, () => SHARED_HEAD + links + data)
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

/** What pages need from the server (the Core has it). */
export interface WebHost {
  readonly services: Services;
}

/** Handles page paths; false when the path is not a page. */
export async function handlePage(host: WebHost, req: IncomingMessage, res: ServerResponse, info: RequestInfo): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const services = host.services;
  const pathname = (req.url ?? '/').split('?')[0]!;
  const lower = pathname.toLowerCase();
  const installed = services.settings.bool('IsInstalled');
  switch (lower) {
    case '/':
      redirect(res, 'Text2Image');
      return true;
    case '/text2image': {
      if (!installed) {
        redirect(res, 'Install');
        return true;
      }
      const login = await pageLogin(services, info);
      if (!login) redirect(res, 'Login');
      else {
        // The user page's API-key rows come from the registry, so key types an extension adds appear too.
        const apiKeys = services.apiKeys.types.all().map((k) => ({ type: k.keyType, title: k.title, link: k.createLink }));
        return sendPage(services, req, res, info, 'main', { data: { can_logout: login === 'token', api_keys: apiKeys } });
      }
      return true;
    }
    case '/install':
      if (installed) redirect(res, 'Text2Image');
      else return sendPage(services, req, res, info, 'install');
      return true;
    case '/login':
      if (await pageLogin(services, info)) redirect(res, 'Text2Image');
      else return sendPage(services, req, res, info, 'login');
      return true;
    case '/register':
      if (await pageLogin(services, info)) redirect(res, 'Text2Image');
      else if (!services.settings.bool('UserAuthorization.Registration.AllowRegistration')) redirect(res, 'Login');
      else return sendPage(services, req, res, info, 'register');
      return true;
  }
  const section = lower.startsWith('/error/') ? lower.slice('/error/'.length) : '';
  const errorStatus = ERROR_STATUS.get(section);
  if (errorStatus !== undefined) return sendPage(services, req, res, info, 'error', { status: errorStatus, fill: showSection(section) });
  // Page files are reachable only through their routes above, with their head filled in.
  if (lower.startsWith('/pages/')) {
    redirect(res, '/Error/404');
    return true;
  }
  return false;
}
