// Server settings: reference names and defaults (docs/COMPATIBILITY.md), stored in the store (only changed values),
// overridable per run (`--set`), cached here and reloaded when any instance changes them.
import type { EventBus } from '../cluster/events.js';
import type { KeyValueStore } from '../store/types.js';

export type SettingType = 'bool' | 'int' | 'decimal' | 'string' | 'string[]';

export interface SettingDef {
  key: string;
  type: SettingType;
  default: boolean | number | string | string[];
  description: string;
  /** Values a person may pick from, when the list is fixed. */
  values?: readonly string[];
  /** The smallest and largest value a number setting takes (inclusive). */
  min?: number;
  max?: number;
  /** Never printed by `settings get` and never sent to clients. */
  secret?: boolean;
  /** Read only when the server starts: a change takes effect at the next start. */
  restart?: boolean;
}

// prettier-ignore
export const CORE_SETTINGS: SettingDef[] = [
  { key: 'UserAuthorization.AuthorizationRequired', type: 'bool', default: false, description: 'Require an account login for the UI and for new sessions.' },
  { key: 'UserAuthorization.AllowLocalhostBypass', type: 'bool', default: true, description: 'Treat direct connections from this machine (no X-Forwarded-For) as the local owner user.' },
  { key: 'UserAuthorization.InstanceTitle', type: 'string', default: 'Local', description: 'Title shown on the login page and in page titles.' },
  { key: 'UserAuthorization.LoginNotice', type: 'string', default: 'This is a private server. Ask the server owner for an account.', description: 'HTML shown on the login page.' },
  { key: 'UserAuthorization.AllowSimplePasswordLogin', type: 'bool', default: true, description: 'Allow logging in with a user name and password.' },
  { key: 'UserAuthorization.LoginTokenIdleDays', type: 'int', default: 365, min: 1, max: 36500, description: 'A login token unused for this many days stops working.' },
  { key: 'UserAuthorization.AuditLogDays', type: 'int', default: 90, min: 1, max: 36500, description: 'Audit log entries (administrative actions, logins) older than this many days are removed.' },
  { key: 'UserAuthorization.Registration.AllowRegistration', type: 'bool', default: false, description: 'Let people create their own accounts.' },
  { key: 'UserAuthorization.Registration.SimplePasswordRegistration', type: 'bool', default: false, description: 'Allow self-registration with a user name and password.' },
  { key: 'UserAuthorization.Registration.NewUserDefaultRole', type: 'string', default: 'user', description: 'Role given to self-registered accounts.' },
  { key: 'UserAuthorization.Registration.RegisterNotice', type: 'string', default: 'Accounts you create here are visible to the server owner.', description: 'HTML shown on the registration page.' },
  { key: 'UserAuthorization.Registration.OAuthRegistration', type: 'bool', default: false, description: 'With AllowRegistration: let people create an account by signing in with a configured OAuth / OpenID Connect provider (they pick a user name).' },
  { key: 'UserAuthorization.OAuth.GoogleOAuth', type: 'bool', default: false, description: "Offer 'Sign in with Google' (needs GoogleOAuthClientId and GoogleOAuthClientSecret of a Google Cloud 'web application' client)." },
  { key: 'UserAuthorization.OAuth.OAuthAllowedDomains', type: 'string', default: '', description: 'When set, a comma-separated list of e-mail domains (example.com) whose addresses may sign in or register with any provider; others are refused.' },
  { key: 'UserAuthorization.OAuth.GoogleOAuthClientId', type: 'string', default: '', description: "The client id of the Google OAuth client; ID tokens for any other client are refused." },
  { key: 'UserAuthorization.OAuth.GoogleOAuthClientSecret', type: 'string', default: '', description: 'The client secret of the Google OAuth client.', secret: true },
  { key: 'UserAuthorization.OAuth.OAuthReturnURL', type: 'string', default: '', description: "The public base address providers send people back to (https://swarm.example.com); blank uses Network.ExternalURL, else the request's own origin. The redirect URI is <base>/OAuth/Callback/<google|oidc>." },
  { key: 'UserAuthorization.OAuth.OIDCIssuer', type: 'string', default: '', description: 'The issuer URL of a generic OpenID Connect provider (Keycloak, Authentik, GitLab, Microsoft, ...); its settings are read from <issuer>/.well-known/openid-configuration. Blank = no generic provider.' },
  { key: 'UserAuthorization.OAuth.OIDCClientId', type: 'string', default: '', description: 'The client id this server has at the generic OpenID Connect provider.' },
  { key: 'UserAuthorization.OAuth.OIDCClientSecret', type: 'string', default: '', description: 'The client secret at the generic OpenID Connect provider (blank for a public client, which then relies on PKCE alone).', secret: true },
  { key: 'UserAuthorization.OAuth.OIDCDisplayName', type: 'string', default: 'single sign-on', description: "The provider's name on the login and register buttons ('Sign in with <name>')." },
  { key: 'UserAuthorization.OAuth.TrackerKeyMinutes', type: 'int', default: 10, min: 0, max: 60, description: 'How long the one-time key that lets a new provider account pick a user name stays valid (0 expires it at once, for tests).' },
  { key: 'Network.Host', type: 'string', default: 'localhost', description: "Address to listen on. 'localhost' listens on 127.0.0.1; '*' or '0.0.0.0' on every interface.", restart: true },
  { key: 'Network.Port', type: 'int', default: 7801, min: 0, max: 65535, description: 'Port to listen on.', restart: true },
  { key: 'Network.PortCanChange', type: 'bool', default: false, description: 'When the port is taken, try the next ones instead of stopping.', restart: true },
  { key: 'Network.ExternalURL', type: 'string', default: '', description: 'The address people use to reach this server, for display.' },
  { key: 'Network.AllowedHosts', type: 'string[]', default: [], description: "Host names this server answers to while it trusts callers by their address (accounts off, or the localhost bypass), besides IP addresses, localhost and ExternalURL's host: a guard against DNS rebinding." },
  { key: 'Network.AccessControlAllowOrigin', type: 'string', default: '', description: 'When set, sent as Access-Control-Allow-Origin and OPTIONS requests are answered for CORS.' },
  { key: 'Network.RequiredAuthorization', type: 'string', default: '', description: 'When set, every request must carry exactly this Authorization header, except from the addresses in Network.AuthBypassIPs; others get 401.', secret: true },
  { key: 'Network.AuthBypassIPs', type: 'string', default: '127.0.0.1,::1,::ffff:127.0.0.1', description: 'Comma-separated socket addresses that need no Authorization header when Network.RequiredAuthorization is set (by default this machine).' },
  { key: 'Network.MaxXForwardedFor', type: 'int', default: 3, min: 0, max: 100, description: 'How many X-Forwarded-For values to record in origin addresses (0 ignores the header).' },
  { key: 'Network.TrustedProxies', type: 'string[]', default: [], description: 'Proxy addresses whose X-Forwarded-For and X-Forwarded-Proto headers are believed (for rate limits and secure cookies).' },
  { key: 'Network.HealthAllowedIPs', type: 'string[]', default: [], description: 'Client addresses or CIDR ranges (e.g. 10.0.0.0/8) that may read /health/live and /health/ready; empty means anyone.' },
  { key: 'Network.MetricsAllowedIPs', type: 'string[]', default: ['127.0.0.1', '::1'], description: 'Client addresses or CIDR ranges that may read /metrics; empty means anyone.' },
  { key: 'Network.ShutdownGraceSeconds', type: 'int', default: 10, min: 0, max: 3600, description: 'On SIGTERM, how long requests already under way may take to finish before their connections are cut.' },
  { key: 'Network.MaxNetworkRequestMegabytes', type: 'int', default: 200, min: 1, max: 2048, description: 'Largest request body accepted from a session, in MiB.' },
  { key: 'Paths.AppendUserNameToOutputPath', type: 'bool', default: true, description: "Save each user's outputs in a folder named after the user." },
  { key: 'DefaultUser.Roles', type: 'string[]', default: ['user'], description: 'Roles of users created automatically (X-SWARM-USER_ID with accounts off).' },
  { key: 'DefaultUser.Theme', type: 'string', default: 'modern_dark', description: 'Theme of every user who has not picked one (a theme id; the installer sets it).' },
  { key: 'DefaultUser.Language', type: 'string', default: 'en', description: 'Language of every user who has not picked one (a languages/ file code; the installer sets it).' },
  { key: 'Install.Backend', type: 'string', default: '', values: ['', 'comfyui', 'none'], description: 'The backend chosen in the installer, for a backend extension to set up (blank = installer not run).' },
  { key: 'Install.AMD', type: 'bool', default: false, description: "The installer's answer to 'is the graphics card an AMD one', for a backend extension." },
  { key: 'Install.ModelCatalog', type: 'string', default: '', description: 'A JSON file listing the models the installer offers (blank = the built-in list). Relative paths start in the data directory.' },
  { key: 'IsInstalled', type: 'bool', default: false, description: 'Whether the first-run installer has completed.' },
  { key: 'InstallDate', type: 'string', default: '', description: 'When the installer completed (YYYY-MM-DD).' },
  { key: 'InstallVersion', type: 'string', default: '', description: 'The server version that ran the installer.' },
];

export type SettingValue = boolean | number | string | string[];

/** A value a setting cannot hold; the message is one line naming the setting and what it takes. */
export class SettingValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingValueError';
  }
}

/** `a, b, c` with the empty value shown as `(empty)`. */
export function listValues(values: readonly string[]): string {
  return values.map((v) => (v === '' ? '(empty)' : v)).join(', ');
}

/** Converts a value (JSON or command-line text) to a setting's type; throws a SettingValueError with a readable message. */
export function convertSetting(def: SettingDef, value: unknown): SettingValue {
  const bad = (): never => {
    throw new SettingValueError(`Setting ${def.key} takes ${describeType(def.type)}, not ${JSON.stringify(value)}`);
  };
  const inRange = (n: number): number => {
    if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) {
      const range = def.max === undefined ? `at least ${def.min}` : def.min === undefined ? `at most ${def.max}` : `from ${def.min} to ${def.max}`;
      throw new SettingValueError(`Setting ${def.key} must be ${range}, not ${n}`);
    }
    return n;
  };
  switch (def.type) {
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
      return bad();
    case 'int': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : NaN;
      return Number.isSafeInteger(n) ? inRange(n) : bad();
    }
    case 'decimal': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      return Number.isFinite(n) ? inRange(n) : bad();
    }
    case 'string': {
      const s = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : bad();
      if (def.values && !def.values.includes(s)) throw new SettingValueError(`Setting ${def.key} must be one of: ${listValues(def.values)}; not '${s}'`);
      return s;
    }
    case 'string[]':
      if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
      if (typeof value === 'string') {
        const t = value.trim();
        if (t.startsWith('[')) {
          try {
            return convertSetting(def, JSON.parse(t));
          } catch {
            return bad();
          }
        }
        return t.split(',').map((s) => s.trim()).filter((s) => s !== '');
      }
      return bad();
  }
}

function describeType(t: SettingType): string {
  return { bool: 'true or false', int: 'a whole number', decimal: 'a number', string: 'text', 'string[]': 'a comma-separated list' }[t];
}

/**
 * A check of a value against what this server has (its themes, languages, roles): the reason it cannot be used,
 * or null. Registered by the core once extensions have added theirs.
 */
export type SettingCheck = (value: SettingValue) => Promise<string | null> | string | null;

export class ServerSettings {
  private readonly defs = new Map<string, SettingDef>();
  private readonly checks = new Map<string, SettingCheck>();
  private readonly byLower = new Map<string, SettingDef>();
  private stored: Record<string, unknown> = {};
  /** The read under way, and the one queued after it (see reload). */
  private reading: Promise<void> | null = null;
  private readAgain: Promise<void> | null = null;
  /** Effective values by the key as asked, computed once per change: settings are read on every request. */
  private readonly effective = new Map<string, SettingValue>();
  private changes = 0;

  constructor(
    private readonly store: KeyValueStore,
    private readonly events: EventBus,
    /** Per-run overrides (`--set`), never written to the store. */
    private readonly overrides: Record<string, SettingValue> = {},
  ) {
    CORE_SETTINGS.forEach((d) => this.define(d));
    // The reload's promise goes back to the bus, which logs a failure (the old values stay in use until the
    // next change or resync) instead of letting it end the process.
    events.subscribe((e) => (e.type === 'settings.changed' || e.type === 'resync' ? this.reload() : undefined));
  }

  define(def: SettingDef): void {
    if (this.defs.has(def.key)) throw new Error(`Setting '${def.key}' is defined twice`);
    this.defs.set(def.key, def);
    this.byLower.set(def.key.toLowerCase(), def);
    this.forgetEffective();
  }

  /** Finds a definition by its key, case-insensitively. */
  find(key: string): SettingDef | undefined {
    return this.byLower.get(key.toLowerCase());
  }

  all(): SettingDef[] {
    return [...this.defs.values()];
  }

  /**
   * Rereads the stored values. Reads never overlap, so a slow early read cannot land after a later one and
   * bring back an old value: a call while a read is under way (which may have started before the change the
   * caller knows of) gets one more read after it, shared by every call that arrives meanwhile.
   */
  reload(): Promise<void> {
    if (!this.reading) {
      this.reading = this.readStored().finally(() => (this.reading = null));
      return this.reading;
    }
    this.readAgain ??= this.reading
      .catch(() => undefined)
      .then(() => {
        this.readAgain = null;
        return this.reload();
      });
    return this.readAgain;
  }

  private async readStored(): Promise<void> {
    this.stored = await this.store.all();
    this.forgetEffective();
  }

  /** Adds a check of the values a setting may take beyond its type and fixed list (see SettingCheck). */
  addCheck(key: string, check: SettingCheck): void {
    this.checks.set(this.require(key).key, check);
  }

  /** Converts a value for a setting and runs its check; throws a SettingValueError naming what it takes. */
  async validate(key: string, value: unknown): Promise<SettingValue> {
    const def = this.require(key);
    const converted = convertSetting(def, value);
    const problem = await this.checks.get(def.key)?.(converted);
    if (problem) throw new SettingValueError(`Setting ${def.key} ${problem}`);
    return converted;
  }

  /** Validates and records a per-run override. */
  async override(key: string, value: unknown): Promise<void> {
    const def = this.require(key);
    this.overrides[def.key] = await this.validate(def.key, value);
    this.forgetEffective();
  }

  /** Counts the changes of any effective value: a value derived from settings is current while this is the same. */
  get version(): number {
    return this.changes;
  }

  private forgetEffective(): void {
    this.effective.clear();
    this.changes++;
  }

  /** The effective value (override, stored, default). Lists are shared: do not modify them. */
  get<T extends SettingValue>(key: string): T {
    const cached = this.effective.get(key);
    if (cached !== undefined) return cached as T;
    const value = this.compute(key);
    this.effective.set(key, value);
    return value as T;
  }

  private compute(key: string): SettingValue {
    const def = this.require(key);
    if (def.key in this.overrides) return this.overrides[def.key]!;
    if (def.key in this.stored) {
      try {
        return convertSetting(def, this.stored[def.key]);
      } catch {
        // A stored value of the wrong type (hand-edited database) falls back to the default.
      }
    }
    return def.default;
  }

  bool(key: string): boolean {
    return this.get<boolean>(key);
  }

  int(key: string): number {
    return this.get<number>(key);
  }

  string(key: string): string {
    return this.get<string>(key);
  }

  list(key: string): string[] {
    return this.get<string[]>(key);
  }

  /** Stores a new value (`undefined` resets to the default) and tells every instance. */
  async set(key: string, value: unknown): Promise<SettingValue> {
    const def = this.require(key);
    await this.setMany({ [def.key]: value });
    return this.get(def.key);
  }

  /**
   * Checks every value first (validate: type, range, allowed values and the setting's own check; the first bad
   * one throws and nothing changes), then stores them all in one transaction and tells every instance. Returns
   * the canonical keys changed.
   */
  async setMany(changes: Readonly<Record<string, unknown>>): Promise<string[]> {
    const checked: Record<string, SettingValue | undefined> = {};
    for (const [key, value] of Object.entries(changes)) {
      const def = this.require(key);
      checked[def.key] = value === undefined ? undefined : await this.validate(def.key, value);
    }
    const keys = Object.keys(checked);
    if (keys.length === 0) return keys;
    await this.store.setMany(checked);
    await this.reload();
    await this.events.publish({ type: 'settings.changed' });
    return keys;
  }

  private require(key: string): SettingDef {
    const def = this.find(key);
    if (!def) throw new UnknownSettingError(key);
    return def;
  }
}

export class UnknownSettingError extends Error {
  constructor(key: string) {
    super(`Unknown setting '${key}'. Run 'swarmcore settings get' to list them.`);
    this.name = 'UnknownSettingError';
  }
}
