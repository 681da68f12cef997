// The composition root: opens the store and the event bus, builds the services, registers the built-in routes
// and the extensions, and runs the periodic sweeps. Only the front door (src/http/server.ts), the CLI and
// embedding applications hold a Core; routes, pages and extensions see its `services` (docs/ARCHITECTURE.md).
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { defineUserSettingDefaults } from './accounts/user-settings.js';
import { LOCAL_USER_ID } from './accounts/users.js';
import { RouteRegistry } from './api/route.js';
import { ERROR_IDS } from './api/errors.js';
import type { EventBus } from './cluster/events.js';
import type { RateLimiter } from './cluster/rate-limits.js';
import type { Extension, ExtensionApi } from './extensions.js';
import { LANGUAGE_CODE } from './i18n/languages.js';
import { BUILT_IN_ROUTES } from './routes/index.js';
import { createServices, type Services } from './services.js';
import { listValues, type ServerSettings, type SettingValue } from './settings/server-settings.js';
import { Metrics } from './ops/metrics.js';
import { DatabaseTimeoutError } from './store/errors.js';
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

/**
 * Whether this instance should get traffic (GET /health/ready): `ready`, `stopping` once a shutdown began, or
 * `not_ready` with the reason (the database does not answer, its schema is behind, or the cluster event
 * connection is down).
 */
export type Readiness = { status: 'ready' } | { status: 'stopping' | 'not_ready'; reason: string };

/** A readiness answer this recent is given again instead of asking the database once more. */
const READINESS_REUSE_MS = 1000;

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
  /** This server's Prometheus metrics (its own registry). */
  readonly metrics = new Metrics(Object.keys(ERROR_IDS));
  private sweepTimer: NodeJS.Timeout | undefined;
  private evictTimer: NodeJS.Timeout | undefined;
  private stoppingSince: number | null = null;
  /** The probe under way (shared by every caller meanwhile) and the last answer with its time. */
  private probing: Promise<Readiness> | null = null;
  private lastProbe: { at: number; readiness: Readiness } | null = null;

  private constructor(
    readonly dataDir: string,
    readonly store: Store,
    readonly events: EventBus,
    readonly log: Logger,
    readonly extensions: readonly Extension[],
  ) {
    const metrics = this.metrics;
    store.observeCalls((operation, seconds, failed) => metrics.storeCall(operation, seconds, failed));
    events.observeLag?.((type, lag) => metrics.eventReceived(type, lag));
    const limiter = store.createRateLimiter();
    const rateLimits: RateLimiter = {
      async tryUse(rule, key) {
        const allowed = await limiter.tryUse(rule, key);
        if (!allowed) metrics.rateLimitRefused(rule.name);
        return allowed;
      },
    };
    this.services = createServices(store, events, { version: VERSION, serverId: randomUUID(), dataDir }, log, rateLimits);
    this.settings = this.services.settings;
    this.routes = new RouteRegistry(this.services.permissions);
    metrics.countLiveSessions(() => this.services.sessions.liveCount);
  }

  /** Marks the instance as stopping: readiness answers `stopping` from now on (see `shutdown` of the server). */
  beginStopping(): void {
    this.stoppingSince ??= Date.now();
  }

  get stopping(): boolean {
    return this.stoppingSince !== null;
  }

  /**
   * Whether this instance should get traffic. Asks the database one trivial question (bounded by the database
   * timeout); callers arriving meanwhile, or within a second of the last answer, share it, so probes cost
   * the database at most one query a second.
   */
  async readiness(): Promise<Readiness> {
    if (this.stopping) return { status: 'stopping', reason: 'The server is shutting down.' };
    if (this.lastProbe && Date.now() - this.lastProbe.at < READINESS_REUSE_MS) return this.lastProbe.readiness;
    this.probing ??= this.probe().then((readiness) => {
      this.lastProbe = { at: Date.now(), readiness };
      this.probing = null;
      return readiness;
    });
    const readiness = await this.probing;
    return this.stopping ? { status: 'stopping', reason: 'The server is shutting down.' } : readiness;
  }

  private async probe(): Promise<Readiness> {
    try {
      const { migrated } = await this.store.probe();
      if (!migrated) return { status: 'not_ready', reason: 'The database schema is older than this server: its migrations have not all been applied.' };
    } catch (err) {
      // The details (addresses, database names) go to the log, not to whoever asks.
      this.log.warn({ err: { message: (err as Error).message, code: (err as { code?: unknown }).code } }, 'readiness check: the database did not answer');
      const reason = err instanceof DatabaseTimeoutError ? `The database did not answer within ${err.seconds} seconds.` : 'The database cannot be reached.';
      return { status: 'not_ready', reason };
    }
    if (!(this.events.connected?.() ?? true)) return { status: 'not_ready', reason: 'The cluster event connection (PostgreSQL LISTEN) is down; reconnecting.' };
    return { status: 'ready' };
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
      core.addSettingChecks();
      await settings.reload();
      await roles.applyDefaults();
      // Overrides are applied after extensions and role defaults, so they may name extension settings, themes
      // and languages, and are checked against the roles that exist.
      for (const [key, value] of Object.entries(options.settings ?? {})) await settings.override(key, value);
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

  /**
   * Settings whose values name things this server has: a theme, a language, roles. A value naming none of them
   * is refused when set (`settings set`, `--set`, the installer) with the list of what exists.
   */
  private addSettingChecks(): void {
    const { settings, themes, languages, roles } = this.services;
    const oneOf = (values: readonly string[], value: SettingValue): string | null =>
      values.includes(String(value)) ? null : `must be one of: ${listValues(values)}; not '${String(value)}'`;
    settings.addCheck('DefaultUser.Theme', (v) => oneOf(themes.all().map((t) => t.id), v));
    settings.addCheck('DefaultUser.Language', (v) => oneOf(languages.codes(), v));
    const existingRoles = async (): Promise<string[]> => [...(await roles.all()).keys()];
    settings.addCheck('DefaultUser.Roles', async (v) => {
      const known = await existingRoles();
      const unknown = (v as string[]).filter((r) => !known.includes(r));
      return unknown.length === 0 ? null : `lists roles that do not exist: ${unknown.map((r) => `'${r}'`).join(', ')}; roles: ${listValues(known)}`;
    });
    settings.addCheck('UserAuthorization.Registration.NewUserDefaultRole', async (v) => oneOf(await existingRoles(), v));
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

  /** Removes expired sessions, idle login tokens, audit entries older than UserAuthorization.AuditLogDays and expired pending sign-ins. */
  async sweep(): Promise<void> {
    const sessions = await this.services.sessions.sweep();
    const tokens = await this.services.loginTokens.sweep();
    const audit = await this.services.audit.prune(this.settings.int('UserAuthorization.AuditLogDays'));
    const oauth = await this.services.oauth.prune();
    if (sessions + tokens + audit + oauth > 0) this.log.info({ sessions, tokens, audit, oauth }, 'expired sessions, login tokens, audit entries and pending sign-ins removed');
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
