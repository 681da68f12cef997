// The composition root: opens the store and the event bus, builds the services, registers the built-in routes
// and the extensions, and runs the periodic sweeps. Only the front door (src/http/server.ts), the CLI and
// embedding applications hold a Core; routes, pages and extensions see its `services` (docs/ARCHITECTURE.md).
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { defineUserSettingDefaults } from './accounts/user-settings.js';
import { LOCAL_USER_ID } from './accounts/users.js';
import { RouteRegistry } from './api/route.js';
import type { EventBus } from './cluster/events.js';
import type { Extension, ExtensionApi } from './extensions.js';
import { LANGUAGE_CODE } from './i18n/languages.js';
import { BUILT_IN_ROUTES } from './routes/index.js';
import { createServices, type Services } from './services.js';
import type { ServerSettings } from './settings/server-settings.js';
import { openStore } from './store/index.js';
import type { Store } from './store/types.js';
import { VERSION } from './util/project.js';

export { PROJECT_ROOT, VERSION } from './util/project.js';
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
  /** Every API route; a route's permission must be registered before it (see RouteRegistry.add). */
  readonly routes: RouteRegistry;
  /** Folders extensions serve at `/ExtensionFile/<extension name>/`, by extension name. */
  readonly extensionFiles = new Map<string, string>();
  /** What routes, pages and extensions see. */
  readonly services: Services;
  /** The same object as `services.settings` (the front door reads network settings on every request). */
  readonly settings: ServerSettings;
  private sweepTimer: NodeJS.Timeout | undefined;
  private evictTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly dataDir: string,
    readonly store: Store,
    readonly events: EventBus,
    readonly log: Logger,
    readonly extensions: readonly Extension[],
  ) {
    this.services = createServices(store, events, { version: VERSION, serverId: randomUUID(), dataDir }, log);
    this.settings = this.services.settings;
    this.routes = new RouteRegistry(this.services.permissions);
  }

  static async open(options: CoreOptions): Promise<Core> {
    const log = options.logger ?? pino({ level: 'silent' });
    const store = options.store ?? (await openStore({ ...options, log }));
    const events = options.events ?? store.createEventBus(log);
    const core = new Core(path.resolve(options.dataDir), store, events, log, options.extensions ?? []);
    const { settings, roles, users } = core.services;
    try {
      defineUserSettingDefaults(settings);
      for (const route of BUILT_IN_ROUTES) core.routes.add(route);
      for (const ext of core.extensions) await ext.register(core.extensionApi(ext));
      // Overrides are applied after extensions, so they may name extension settings too.
      for (const [key, value] of Object.entries(options.settings ?? {})) settings.override(key, value);
      await settings.reload();
      await roles.applyDefaults();
      await users.ensure(LOCAL_USER_ID, ['owner']);
      await core.sweep();
    } catch (err) {
      await store.close();
      throw err;
    }
    core.sweepTimer = setInterval(() => void core.sweep().catch((err: unknown) => log.error({ err }, 'sweep failed')), SWEEP_INTERVAL_MS);
    core.sweepTimer.unref();
    core.evictTimer = setInterval(() => void core.services.sessions.evictIdle(SESSION_MEMORY_SECONDS).catch((err: unknown) => log.error({ err }, 'evicting idle sessions failed')), 60_000);
    core.evictTimer.unref();
    return core;
  }

  /** What one extension may add, and the services it may use. */
  private extensionApi(extension: Extension): ExtensionApi {
    const s = this.services;
    return {
      services: s,
      log: this.log.child({ extension: extension.name }),
      addRoute: (route) => this.routes.add(route),
      addPermission: (permission) => void s.permissions.register(permission),
      addServerSetting: (setting) => s.settings.define(setting),
      addTheme: (theme) => s.themes.add(theme),
      addFiles: (folder) => {
        if (this.extensionFiles.has(extension.name)) throw new Error(`Extension '${extension.name}' serves files already`);
        this.extensionFiles.set(extension.name, path.resolve(folder));
      },
      addUserSetting: (setting) => defineUserSettingDefaults(s.settings, s.userSettings.add(setting)),
      addLanguage: (language) => {
        if (!LANGUAGE_CODE.test(language.code)) throw new Error(`Language code '${language.code}' must be 1 to 32 letters, digits, '_' or '-'`);
        s.languages.add(language);
      },
      addApiKeyType: (type) => s.apiKeys.types.add(type),
      addBackend: (backend) => s.generation.backends.add(backend),
      addSupportedFeature: (feature) => s.generation.backends.addFeature(feature),
    };
  }

  /** Removes expired sessions, idle login tokens and audit entries older than UserAuthorization.AuditLogDays. */
  async sweep(): Promise<void> {
    const sessions = await this.services.sessions.sweep();
    const tokens = await this.services.loginTokens.sweep();
    const audit = await this.services.audit.prune(this.settings.int('UserAuthorization.AuditLogDays'));
    if (sessions + tokens + audit > 0) this.log.info({ sessions, tokens, audit }, 'expired sessions, login tokens and audit entries removed');
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    clearInterval(this.evictTimer);
    // Running generations stop now rather than outlive the store they may write to.
    this.services.generation.stopAll('The server is stopping.');
    for (const ext of this.extensions) await ext.close?.();
    await this.events.close();
    await this.store.close();
  }
}
