// The domain services, wired together once per server. Route handlers, pages and extensions see exactly this
// object (a route's context extends it); each service owns its store calls and publishes its own cluster
// events, so nothing above this layer touches the store. See docs/ARCHITECTURE.md.
import path from 'node:path';
import type { Logger } from 'pino';
import { ApiKeyRegistry, ApiKeyService } from './accounts/api-keys.js';
import { AuditService } from './accounts/audit.js';
import { LoginTokenService } from './accounts/login-tokens.js';
import { OAuthService } from './accounts/oauth.js';
import { PermissionRegistry } from './accounts/permissions.js';
import { RoleService } from './accounts/roles.js';
import { SessionService } from './accounts/sessions.js';
import { UserSettingRegistry } from './accounts/user-settings.js';
import { UserService } from './accounts/users.js';
import type { EventBus } from './cluster/events.js';
import type { RateLimiter } from './cluster/rate-limits.js';
import { GenerationService } from './generation/service.js';
import { LanguageRegistry } from './i18n/languages.js';
import { InstallLock } from './install/lock.js';
import { PresetService } from './presets/service.js';
import { ServerSettings } from './settings/server-settings.js';
import type { Store } from './store/types.js';
import { ThemeRegistry } from './themes/themes.js';
import { PROJECT_ROOT } from './util/project.js';

/** Facts about this server process. */
export interface ServerInfo {
  readonly version: string;
  /** A random id per process; clients compare it to notice a restart. */
  readonly serverId: string;
  /** Where SQLite keeps its file and where data files (autocompletions, languages, models) are read. */
  readonly dataDir: string;
}

/** Everything a route handler, a page or an extension may use. */
export interface Services {
  readonly server: ServerInfo;
  /** Server settings: read any, change through `set` (every instance follows). */
  readonly settings: ServerSettings;
  /** Accounts: records, effective permissions, passwords, per-user settings and data. */
  readonly users: UserService;
  readonly roles: RoleService;
  /** Every permission with its name, group and default level; extensions add theirs. */
  readonly permissions: PermissionRegistry;
  readonly sessions: SessionService;
  readonly loginTokens: LoginTokenService;
  /** The audit log: administrative actions and login results. */
  readonly audit: AuditService;
  /** Sign-in with OpenID Connect providers: flows, ID token checks, linked e-mails, tracker keys. */
  readonly oauth: OAuthService;
  /** Users' upstream API keys, and the key types the server accepts. */
  readonly apiKeys: ApiKeyService;
  /** Rate limits shared by every instance on the database. */
  readonly rateLimits: RateLimiter;
  readonly presets: PresetService;
  /** Per-session generation work and interrupts, the backends and their status. */
  readonly generation: GenerationService;
  /** The first-run installer's one-at-a-time lock. */
  readonly installer: InstallLock;
  readonly themes: ThemeRegistry;
  /** UI translations: the project's languages/ folder, then `<dataDir>/languages`. */
  readonly languages: LanguageRegistry;
  /** The per-user settings tree: built-in settings plus those extensions add. */
  readonly userSettings: UserSettingRegistry;
}

/** `rateLimits`: the store's limiter unless the caller wraps it (the Core counts refusals for its metrics). */
export function createServices(store: Store, events: EventBus, server: ServerInfo, log: Logger, rateLimits: RateLimiter = store.createRateLimiter()): Services {
  const permissions = new PermissionRegistry();
  const settings = new ServerSettings(store.settings, events);
  const roles = new RoleService(store, events, permissions);
  const loginTokens = new LoginTokenService(store, events, settings);
  const sessions = new SessionService(store, events, loginTokens, log);
  return {
    server,
    settings,
    users: new UserService(store, events, roles, loginTokens, sessions),
    roles,
    permissions,
    sessions,
    loginTokens,
    audit: new AuditService(store),
    oauth: new OAuthService(store, settings),
    apiKeys: new ApiKeyService(store, new ApiKeyRegistry()),
    rateLimits,
    presets: new PresetService(store, events),
    generation: new GenerationService(events, sessions),
    installer: new InstallLock(store.leases, log),
    themes: new ThemeRegistry(),
    languages: LanguageRegistry.load([path.join(PROJECT_ROOT, 'languages'), path.join(server.dataDir, 'languages')], log),
    userSettings: new UserSettingRegistry(),
  };
}
