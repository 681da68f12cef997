// The server's services, wired together once. Everything a route, a page or an extension needs is reached
// through this object.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import { RouteRegistry } from './api/route.js';
import { LoginTokenService } from './accounts/login-tokens.js';
import { PermissionRegistry } from './accounts/permissions.js';
import type { RateLimiter } from './accounts/rate-limits.js';
import { RoleService } from './accounts/roles.js';
import { SessionService } from './accounts/sessions.js';
import { UserService } from './accounts/users.js';
import type { EventBus } from './cluster/events.js';
import { extensionApi, type Extension } from './extensions.js';
import { ServerSettings } from './settings/server-settings.js';
import { openStore } from './store/index.js';
import type { Store } from './store/types.js';
import { ThemeRegistry } from './web/themes.js';
import { LanguageRegistry } from './i18n/languages.js';
import { ApiKeyRegistry } from './accounts/api-keys.js';
import { BackendRegistry } from './generation/backends.js';
import { UserSettingRegistry } from './accounts/user-settings.js';
import { registerBuiltInRoutes } from './routes/index.js';

/** The project root (one level above src/ or dist/), where web/ and languages/ live. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const VERSION: string = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
export const LOCAL_USER_ID = 'local';
const SWEEP_INTERVAL_MS = 60 * 60 * 1000;
/** Sessions unused this long leave memory (not the store). */
const SESSION_MEMORY_SECONDS = 15 * 60;

export interface CoreOptions {
  /** Where SQLite keeps its file and where data files (autocompletions, languages) are read. */
  dataDir: string;
  /** Use this store instead of opening SQLite in dataDir. */
  store?: Store;
  /** A `postgres://` URL: keep everything in PostgreSQL (several instances may share it) instead of SQLite. */
  databaseUrl?: string;
  /** Per-run server setting overrides (not stored). */
  settings?: Record<string, unknown>;
  extensions?: Extension[];
  logger?: Logger;
  events?: EventBus;
}

export class Core {
  readonly version = VERSION;
  /** A random id per process; clients compare it to notice a restart. */
  readonly serverId = randomUUID();
  readonly localUserId = LOCAL_USER_ID;
  readonly routes = new RouteRegistry();
  readonly permissions = new PermissionRegistry();
  readonly themes = new ThemeRegistry();
  /** Upstream API key types users may store (SetAPIKey); extensions add theirs. */
  readonly apiKeys = new ApiKeyRegistry();
  /** UI translations: the project's languages/ folder, then `<dataDir>/languages`. */
  readonly languages: LanguageRegistry;
  /** The per-user settings tree: built-in settings plus those extensions add. */
  readonly userSettings = new UserSettingRegistry();
  /** Folders extensions serve at `/ExtensionFile/<extension name>/`, by extension name. */
  readonly extensionFiles = new Map<string, string>();
  /** Generation backends registered by extensions; GetCurrentStatus reports on them. */
  readonly backends = new BackendRegistry();
  readonly settings: ServerSettings;
  readonly roles: RoleService;
  readonly users: UserService;
  readonly loginTokens: LoginTokenService;
  readonly sessions: SessionService;
  readonly rateLimits: RateLimiter;
  private sweepTimer: NodeJS.Timeout | undefined;
  private evictTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly dataDir: string,
    readonly store: Store,
    readonly events: EventBus,
    readonly log: Logger,
    readonly extensions: readonly Extension[],
  ) {
    this.settings = new ServerSettings(store.settings, events);
    this.roles = new RoleService(store, events, this.permissions);
    this.users = new UserService(store, events, this.roles);
    this.loginTokens = new LoginTokenService(store, events, this.settings);
    this.sessions = new SessionService(store, events, this.loginTokens);
    this.rateLimits = store.createRateLimiter();
    this.languages = LanguageRegistry.load([path.join(PROJECT_ROOT, 'languages'), path.join(dataDir, 'languages')], log);
  }

  static async open(options: CoreOptions): Promise<Core> {
    const log = options.logger ?? pino({ level: 'silent' });
    const store = options.store ?? (await openStore(options));
    const events = options.events ?? store.createEventBus();
    const core = new Core(path.resolve(options.dataDir), store, events, log, options.extensions ?? []);
    try {
      registerBuiltInRoutes(core);
      for (const ext of core.extensions) await ext.register(extensionApi(core, ext));
      // Overrides are applied after extensions, so they may name extension settings too.
      for (const [key, value] of Object.entries(options.settings ?? {})) core.settings.override(key, value);
      await core.settings.reload();
      await core.roles.applyDefaults();
      await core.users.ensure(LOCAL_USER_ID, ['owner']);
      await core.sweep();
    } catch (err) {
      await store.close();
      throw err;
    }
    core.sweepTimer = setInterval(() => void core.sweep().catch((err: unknown) => log.error({ err }, 'sweep failed')), SWEEP_INTERVAL_MS);
    core.sweepTimer.unref();
    core.evictTimer = setInterval(() => void core.sessions.evictIdle(SESSION_MEMORY_SECONDS).catch((err: unknown) => log.error({ err }, 'evicting idle sessions failed')), 60_000);
    core.evictTimer.unref();
    return core;
  }

  /** Removes expired sessions and idle login tokens. */
  async sweep(): Promise<void> {
    const sessions = await this.sessions.sweep();
    const tokens = await this.loginTokens.sweep();
    if (sessions + tokens > 0) this.log.info({ sessions, tokens }, 'expired sessions and login tokens removed');
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    clearInterval(this.evictTimer);
    // Running generations stop now rather than outlive the store they may write to.
    for (const session of this.sessions.liveSessions()) session.work.interrupt('The server is stopping.');
    for (const ext of this.extensions) await ext.close?.();
    await this.events.close();
    await this.store.close();
  }
}
