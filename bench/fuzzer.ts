// A seeded fuzzer over every route and WebSocket route the server declares. Two phases, each on a real server
// on a fresh SQLite data dir:
//   accounts: accounts required; a victim user with planted secrets, and several fuzzing users ("lanes") that
//             each send hostile calls as themselves, in parallel;
//   owner:    accounts off; one lane as the local owner, who holds every permission (the installer included).
// After every call it checks the invariants below; `runFuzz` returns the totals and every violation found.
//   - an answer arrives, never a 5xx, and every API answer has the error registry's shape;
//   - no stack trace, source path or password hash in any answer;
//   - no secret of another user (API keys, preset contents, starred models, links, edits, token reasons) and no
//     user name other than the caller's in user fields;
//   - a refused call to a writing route changes nothing the user can read (compared with a snapshot), and the
//     victim's data never changes.
import Database from 'better-sqlite3';
import http from 'node:http';
import jpeg from 'jpeg-js';
import { ERROR_IDS } from '../src/api/errors.js';
import { SESSIONLESS_MAX_BYTES } from '../src/http/limits.js';
import { tokenText } from '../src/api/params.js';
import { ROOT, TestServer, prehash } from '../test/helpers/server.js';
import { mulberry32, type Rng } from './prng.js';
import { loadRoutes, type RouteInfo } from './routes.js';
import { httpCall, socketCall, type WireAnswer } from './wire.js';
import path from 'node:path';

export interface FuzzOptions {
  seed: number;
  /** Fuzz calls in total (state reads for the checks come on top and are counted apart). */
  requests: number;
  /** Parallel fuzzing users in the accounts phase. */
  lanes?: number;
  /** Share of the calls made in the owner phase. */
  ownerShare?: number;
  /** Called now and then with progress text. */
  progress?: (line: string) => void;
  /** Stop after this many violations (default 20). */
  maxFailures?: number;
  /** Called with each violation as it is found. */
  onFailure?: (message: string) => void;
  /** Ends the run early (e.g. on Ctrl-C); the result then covers the calls made so far. */
  signal?: AbortSignal;
}

export interface FuzzResult {
  seed: number;
  requests: number;
  checkRequests: number;
  byRoute: Record<string, number>;
  byKind: Record<string, number>;
  /** Calls answered as a success / a refusal. */
  succeeded: number;
  refused: number;
  webSocketCalls: number;
  failures: string[];
  /** True when `signal` ended the run before all calls were made. */
  interrupted: boolean;
  durationMs: number;
  routes: string[];
}

/** Permissions of routes that answer with other users' names to whoever holds them (the AdminAPI). */
const ABOUT_OTHER_USERS = new Set(['manage_users', 'configure_roles', 'interrupt_others', 'read_server_info_panels', 'view_audit_log']);
const ACCOUNTS_ON = {
  'UserAuthorization.AuthorizationRequired': true,
  'UserAuthorization.AllowLocalhostBypass': false,
  'UserAuthorization.Registration.AllowRegistration': true,
  'UserAuthorization.Registration.SimplePasswordRegistration': true,
  // Each call comes "from" its own address, so the per-address login limit never blocks the lanes.
  'Network.TrustedProxies': '127.0.0.1',
};

const KEY_TYPES = ['stability_api', 'civitai_api', 'huggingface_api'];
/** Routes whose body keys the route reads itself, and the key it expects (other open-body routes take the whole body). */
const BODY_KEYS: Record<string, string> = { AddNewPreset: 'param_map', ChangeUserSettings: 'settings', SetParamEdits: 'edits', ExportUserPresets: 'titles' };
/** Names no route has (letter-case variants of real names are made from the route list). */
const BOGUS_ROUTES = ['NoSuchRoute', '../API/Login', '%00', 'constructor', '__proto__', 'hasOwnProperty', 'x'.repeat(300)];

const KINDS = {
  valid: 30,
  'wrong-types': 14,
  'missing-field': 6,
  'extra-fields': 5,
  'proto-keys': 3,
  'duplicate-keys': 2,
  'non-object': 3,
  'invalid-utf8': 3,
  truncated: 4,
  deep: 2,
  'wrong-content-type': 3,
  'wrong-method': 2,
  'bad-session': 9,
  'session-header': 3,
  'swapped-transport': 3,
  huge: 1,
} as const;
type Kind = keyof typeof KINDS;

const WEIRD: unknown[] = [
  null, true, false, 0, -1, 1.5, -0, 1e308, -1e308, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 1, 2 ** 63, 1e-320, '', ' ', '\t\n', 'null', 'undefined',
  'True', 'FALSE', '1e5', '0x10', '١٢', 'NaN', 'Infinity', '-', '../../etc/passwd', '..\\..\\win.ini', '/ViewSpecial/Preset/../../x', '<script>alert(1)</script>',
  "' OR 1=1 --", '"; DROP TABLE users; --', '${jndi:ldap://x}', '%s%s%n', '\u0000', 'a\u0000b', '\u202e\u200b\ufeff', '\ud800', '\udfff\ud800', '😀'.repeat(50),
  'ﷺ'.repeat(20), 'Z\u0351\u0352\u0353'.repeat(30), 'x'.repeat(5000), [], [1, 'a', null], [[[]]], {}, { a: { b: [] } }, { __proto__: { admin: true } }, { constructor: { prototype: { x: 1 } } },
  'constructor', '__proto__', 'hasOwnProperty', 'none', '*', 'local', 'admin',
];

interface Canaries {
  /** Secrets of other users: must never appear in an answer unless the request itself carried them. */
  secrets: string[];
}

interface Call {
  route: string;
  kind: Kind;
  transport: 'http' | 'ws';
  method: string;
  headers: Record<string, string>;
  body: Buffer;
  /** The request text, to tell an echo of the caller's own input from a leak. */
  text: string;
  /** True when the call carried the lane's valid session (or asked nothing session-wise). */
  validSession: boolean;
}

interface Answer {
  /** HTTP status, or 0 for a WebSocket. */
  status: number;
  /** The body, or for a WebSocket the last message. */
  json: unknown;
  texts: string[];
  location: string | undefined;
  setCookie: string[];
  /** For a WebSocket, the close code the server sent. */
  closeCode?: number;
}

function tinyJpegDataUrl(): string {
  const data = Buffer.alloc(4 * 4 * 4, 200);
  return `data:image/jpeg;base64,${jpeg.encode({ data, width: 4, height: 4 }, 50).data.toString('base64')}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when the answer refuses: an envelope error, a soft error, a preset_fail or `success: false`. */
function isRefusal(a: Answer): boolean {
  if (a.status !== 200 && a.status !== 0) return true;
  const j = a.json;
  if (!isObject(j)) return true;
  return 'error' in j || 'error_id' in j || 'preset_fail' in j || j.success === false;
}

const STACK_PATTERNS = [/"stack"\s*:/, /\n\s+at \S/, /\bat [^\s()]+ \([^)]*:\d+:\d+\)/, /node:internal/, /node_modules\//, new RegExp(ROOT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))];
const HASH_MARKERS = ['$argon2', 'swarmpw_v1:', 'sha256:'];

class Fuzz {
  readonly result: FuzzResult;
  private readonly failLimit: number;
  constructor(
    readonly opts: FuzzOptions,
    readonly routes: RouteInfo[],
  ) {
    this.failLimit = opts.maxFailures ?? 20;
    this.result = { seed: opts.seed, requests: 0, checkRequests: 0, byRoute: {}, byKind: {}, succeeded: 0, refused: 0, webSocketCalls: 0, failures: [], interrupted: false, durationMs: 0, routes: routes.map((r) => r.name) };
  }

  get stopped(): boolean {
    if (this.opts.signal?.aborted) this.result.interrupted = true;
    return this.result.failures.length >= this.failLimit || this.result.interrupted;
  }

  fail(message: string): void {
    if (this.result.failures.length >= this.failLimit) return;
    this.result.failures.push(message);
    this.opts.onFailure?.(message);
  }
}

/** One server under fuzz. */
class Target {
  readonly base: URL;
  private readonly db: Database.Database;
  constructor(
    readonly server: TestServer,
    readonly fuzz: Fuzz,
  ) {
    this.base = new URL(server.url);
    this.db = new Database(path.join(server.dataDir, 'swarmcore.db'), { readonly: true, fileMustExist: true });
  }

  /** A harness call (setup or a state read): counted apart, must succeed. */
  async api(route: string, body: Record<string, unknown>, headers: Record<string, string> = {}, agent: http.Agent | false = false): Promise<WireAnswer> {
    this.fuzz.result.checkRequests++;
    return httpCall(this.base, { path: `/API/${route}`, method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': forwarded(), ...headers }, body: Buffer.from(JSON.stringify(body)) }, agent);
  }

  async ok(route: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const a = await this.api(route, body, headers);
    if (a.status !== 200 || !isObject(a.json) || 'error' in a.json || 'error_id' in a.json || 'preset_fail' in a.json) throw new Error(`harness call ${route} failed: ${a.status} ${a.text.slice(0, 300)}`);
    return a.json;
  }

  private tables: { name: string; query: Database.Statement; byUser: boolean }[] | null = null;

  /** Every row of every table that belongs to `userId` (by `user_id`, or `id` in users), and the server settings. */
  storedState(userId: string): Record<string, unknown[]> {
    this.tables ??= (this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[])
      // The audit log records refused logins on purpose (docs/COMPATIBILITY.md#d30): it is not the user's data.
      .filter(({ name }) => !/session|event|lease|rate|audit/i.test(name))
      .flatMap(({ name }) => {
        const cols = (this.db.prepare(`PRAGMA table_info("${name}")`).all() as { name: string }[]).map((c) => c.name);
        const owner = cols.includes('user_id') ? 'user_id' : name === 'users' ? 'id' : name === 'server_settings' ? '' : null;
        if (owner === null) return [];
        const keep = cols.filter((c) => !/last_active|last_used|^seq$/.test(c)).map((c) => `"${c}"`).join(', ');
        const where = owner === '' ? '' : ` WHERE "${owner}" = ?`;
        return [{ name, query: this.db.prepare(`SELECT ${keep} FROM "${name}"${where} ORDER BY 1, 2`), byUser: owner !== '' }];
      });
    const out: Record<string, unknown[]> = {};
    for (const { name, query, byUser } of this.tables) out[name] = byUser ? query.all(userId) : query.all();
    return out;
  }

  close(): void {
    this.db.close();
  }
}

let addressCounter = 0;
/** A fresh client address per call, for the per-address login limit. */
function forwarded(): string {
  addressCounter++;
  return `10.${(addressCounter >> 16) & 255}.${(addressCounter >> 8) & 255}.${addressCounter & 255}`;
}

/**
 * A user's state: every stored row that belongs to the user (found by column, so a new table is covered
 * without touching this file; sessions and activity times left out, as any call may touch them), the server
 * settings, and what GetMyUserData shows (edit counters left out). Dead session = `alive: false`.
 */
async function snapshot(t: Target, userId: string, sid: string, agent: http.Agent): Promise<{ text: string; alive: boolean }> {
  const data = await t.api('GetMyUserData', { session_id: sid }, {}, agent);
  if (data.status === 401) return { text: '', alive: false };
  const state = { api: data.text.replace(/editid=\d+/g, 'editid=N'), ...t.storedState(userId) };
  return { text: JSON.stringify(state), alive: true };
}

function describeDiff(before: string, after: string): string {
  const a = JSON.parse(before) as Record<string, unknown>;
  const b = JSON.parse(after) as Record<string, unknown>;
  const changed = Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return changed
    .map((k) => {
      const x = a[k];
      const y = b[k];
      if (!Array.isArray(x) || !Array.isArray(y)) return `${k}: ${JSON.stringify(x).slice(0, 300)} -> ${JSON.stringify(y).slice(0, 300)}`;
      const xs = new Set(x.map((e) => JSON.stringify(e)));
      const ys = new Set(y.map((e) => JSON.stringify(e)));
      return `${k}: removed ${[...xs].filter((e) => !ys.has(e)).join(', ').slice(0, 600)}; added ${[...ys].filter((e) => !xs.has(e)).join(', ').slice(0, 600)}`;
    })
    .join('; ');
}

/** A fuzzing user: its credentials, what it owns, and its last known state. */
class Lane {
  sid = '';
  state = '';
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  readonly titles = new Set<string>();
  /** Ids of tokens this lane made for scripts (never the one behind its own session). */
  readonly tokenIds: string[] = [];
  spareToken = '';
  settingIds: string[] = [];
  themes: string[] = [];
  private sinceCheck = 0;

  constructor(
    readonly t: Target,
    readonly rng: Rng,
    readonly userId: string,
    /** The password in the client's prehash form, as Login and ChangePassword take it. */
    public clientPassword: string,
    readonly accounts: boolean,
    readonly canaries: Canaries,
    readonly peers: { names: string[]; titles: string[]; tokenIds: string[] },
  ) {}

  get fuzz(): Fuzz {
    return this.t.fuzz;
  }

  /** Gets a session: accounts on, from a login token; accounts off, as the local owner. */
  async connect(): Promise<void> {
    if (!this.accounts) {
      this.sid = (await this.t.ok('GetNewSession', {})).session_id as string;
    } else {
      if (this.spareToken === '') {
        const li = await this.t.api('Login', { username: this.userId, password: this.clientPassword });
        const cookie = li.setCookie.map((c) => /swarm_token=([^;]+)/.exec(c)?.[1]).find(Boolean);
        if (!cookie) throw new Error(`login of ${this.userId} failed: ${li.text}`);
        this.sid = (await this.t.ok('GetNewSession', {}, { Cookie: `swarm_token=${cookie}` })).session_id as string;
        this.spareToken = (await this.t.ok('CreateAuthToken', { session_id: this.sid, reason: 'fuzz lane spare' })).token as string;
      } else {
        // The spare token now stands behind the lane's session (a Logout would revoke it): make the next spare.
        this.sid = (await this.t.ok('GetNewSession', {}, { 'X-Swarm-Token': this.spareToken })).session_id as string;
        this.spareToken = (await this.t.ok('CreateAuthToken', { session_id: this.sid, reason: 'fuzz lane spare' })).token as string;
      }
    }
    const settings = await this.t.ok('GetUserSettings', { session_id: this.sid });
    this.settingIds = Object.keys(settings.settings as object);
    this.themes = Object.keys(settings.themes as object);
    this.state = (await snapshot(this.t, this.userId, this.sid, this.agent)).text;
  }

  /** A session made from a fresh script token, for calls that end the session they are made with. */
  private async throwawaySession(): Promise<string> {
    if (!this.accounts) return (await this.t.ok('GetNewSession', {})).session_id as string;
    const token = (await this.t.ok('CreateAuthToken', { session_id: this.sid, reason: 'fuzz throwaway' }, {})).token as string;
    const sid = (await this.t.ok('GetNewSession', {}, { 'X-Swarm-Token': token })).session_id as string;
    this.state = (await snapshot(this.t, this.userId, this.sid, this.agent)).text;
    return sid;
  }

  // ------------------------------------------------------------------------------------------------------
  // Inputs

  private str(): string {
    const r = this.rng;
    return r.weighted({ word: 5, unicode: 2, weird: 2, long: 1 }) === 'word'
      ? `${r.pick(['a', 'Test', 'my preset', 'x/y', 'folder/sub/name', ' spaced ', 'MiXeD', 'dots...', '#1', '100%'])}${r.chance(0.5) ? r.int(1000) : ''}`
      : r.pick(WEIRD.filter((w): w is string => typeof w === 'string'));
  }

  private title(): string {
    const r = this.rng;
    const own = [...this.titles];
    const choice = r.weighted({ own: own.length ? 4 : 0, peer: 2, fresh: 4, weird: 1 });
    if (choice === 'own') return r.pick(own);
    if (choice === 'peer') return r.pick(this.peers.titles);
    if (choice === 'fresh') return `fz ${this.userId} ${r.hex(4)}${r.chance(0.2) ? '/sub' : ''}`;
    return this.str();
  }

  private passwordInput(): string {
    const r = this.rng;
    // Every guessable password is refused by length; a valid one is the lane's own or random, so no other lane
    // can log in as this one after it changed its password.
    return r.pick([this.clientPassword, r.hex(64), r.hex(64), 'short', 'x'.repeat(600), '', `__swarmdoprehash:${r.hex(8)}`]);
  }

  private jsonJunk(depth = 0): unknown {
    const r = this.rng;
    if (depth > 3 || r.chance(0.5)) return r.pick(WEIRD);
    if (r.chance(0.5)) return Array.from({ length: r.int(4) }, () => this.jsonJunk(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = r.int(4); i > 0; i--) o[r.chance(0.7) ? this.str() : r.pick(['__proto__', 'constructor', 'prompt', 'model', 'images'])] = this.jsonJunk(depth + 1);
    return o;
  }

  private settingValue(): unknown {
    const r = this.rng;
    return r.pick([true, false, 'true', 0, 1, 42, -5, 3.5, 'png', 'jpg', 'webp', 'en', 'de', ...this.themes, this.str(), r.pick(WEIRD)]);
  }

  /** A plausible value for a field, by its name and declared type. */
  private plausible(name: string, type: string): unknown {
    const r = this.rng;
    if (type === 'bool') return r.pick([true, false, true, false, 'true', 'False', 1, 0]);
    if (type === 'int' || type === 'number') return r.pick([0, 1, -1, 7, 2 ** 31 - 1, 1.5]);
    if (type === 'string[]') return Array.from({ length: r.int(4) }, () => this.title());
    switch (name) {
      case 'title':
      case 'preset':
      case 'editing':
        return this.title();
      case 'keyType':
        return r.chance(0.85) ? r.pick(KEY_TYPES) : this.str();
      case 'key':
        return r.pick([`fzkey-${this.userId}-${r.hex(6)}`, 'none', '', ' ', this.str()]);
      case 'language':
        return r.pick(['en', 'de', 'fr', 'xx', '', this.str()]);
      case 'username':
      case 'impersonateUser':
        return r.pick([this.userId, this.userId.toUpperCase(), ...this.peers.names, 'local', 'admin', `new_${r.hex(6)}`, this.str()]);
      case 'password':
      case 'oldPassword':
      case 'newPassword':
        return this.passwordInput();
      case 'tokenId':
        return r.pick([...this.tokenIds, ...this.peers.tokenIds, r.hex(32), '', this.str()].filter((x) => x !== undefined));
      case 'reason':
      case 'message':
      case 'description':
        return this.str();
      case 'preview_image':
        return r.pick([tinyJpegDataUrl(), 'imgs/model_placeholder.jpg', `/ViewSpecial/Preset/${encodeURIComponent(this.title().replace(/[\ud800-\udfff]/g, "?"))}`, 'data:image/jpeg;base64,!!notbase64', 'data:image/png;base64,AAAA', 'http://127.0.0.1/x.jpg', this.str()]);
      case 'preview_image_metadata':
        return r.pick([null, '{"prompt":"x"}', this.str()]);
      case 'theme':
        return r.pick([...this.themes, 'no_such_theme', this.str()]);
      case 'installed_for':
        return r.pick(['just_self', 'just_self_lan', 'everyone', 'constructor', this.str()]);
      case 'backend':
        return r.pick(['none', 'comfyui', 'other', this.str()]);
      case 'models':
        return r.pick(['none', '', 'no_such_model', 'a,b', this.str()]);
      default:
        return this.str();
    }
  }

  /** The body keys an open-body route reads. */
  private openBody(route: string, input: Record<string, unknown>): void {
    const r = this.rng;
    const key = BODY_KEYS[route];
    if (key === 'param_map') input.param_map = r.chance(0.8) ? { prompt: this.str(), steps: r.int(50), model: this.str() } : this.jsonJunk();
    else if (key === 'settings') {
      const settings: Record<string, unknown> = {};
      for (let i = 1 + r.int(3); i > 0; i--) settings[r.chance(0.85) && this.settingIds.length ? r.pick(this.settingIds) : this.str()] = this.settingValue();
      input.settings = r.chance(0.9) ? settings : this.jsonJunk();
    } else if (key === 'edits') input.edits = r.chance(0.8) ? { [this.str()]: { visible: r.chance(0.5) } } : this.jsonJunk();
    else if (key === 'titles') input.titles = r.chance(0.8) ? [this.title(), this.title()] : this.jsonJunk();
    else for (let i = r.int(3); i > 0; i--) input[r.pick(['Stable-Diffusion', 'LoRA', 'VAE', this.str()])] = r.chance(0.7) ? [this.str()] : this.jsonJunk();
  }

  private async build(route: RouteInfo | null, routeName: string): Promise<Call> {
    const r = this.rng;
    const kind = r.weighted(KINDS);
    const input: Record<string, unknown> = {};
    let validSession = true;
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'X-Forwarded-For': forwarded() };
    const sessionless = route?.permission === null;
    if (!sessionless) {
      if (kind === 'bad-session') {
        validSession = false;
        const bad = r.pick<unknown>(['missing', r.hex(40), r.hex(40).toUpperCase(), '', ' ', this.sid.slice(0, 39), `${this.sid} `, this.sid.toUpperCase(), 12345, null, [this.sid], { id: this.sid }, this.str()]);
        if (bad !== 'missing') input.session_id = bad;
      } else if (kind === 'session-header') {
        headers['X-Session-ID'] = this.sid;
      } else {
        input.session_id = routeName === 'Logout' ? await this.throwawaySession() : this.sid;
      }
    } else if (this.accounts && routeName === 'GetNewSession') {
      const how = r.pick(['spare', 'spare', 'cookie', 'none', 'junk', 'forged']);
      if (how === 'spare') headers['X-Swarm-Token'] = this.spareToken;
      if (how === 'cookie') headers.Cookie = `swarm_token=${this.spareToken}`;
      if (how === 'junk') headers['X-Swarm-Token'] = this.str().replace(/[^\x20-\x7e]/g, '?');
      if (how === 'forged') headers['X-Swarm-Token'] = this.spareToken.replace(/[^.]+$/, r.hex(40));
      validSession = how === 'spare' || how === 'cookie';
    }
    for (const [name, f] of Object.entries(route?.fields ?? { username: { type: 'string', required: true }, title: { type: 'string', required: true } })) {
      if (!f.required && r.chance(0.4)) continue;
      input[name] = kind === 'wrong-types' && r.chance(0.6) ? r.pick(WEIRD) : this.plausible(name, f.type);
    }
    if (route?.openBody || !route) this.openBody(routeName, input);
    if (kind === 'missing-field') {
      const names = Object.keys(input).filter((k) => k !== 'session_id');
      if (names.length) delete input[r.pick(names)];
    }
    if (kind === 'extra-fields') for (let i = 1 + r.int(4); i > 0; i--) input[this.str()] = this.jsonJunk();
    if (kind === 'huge') input[r.pick(Object.keys(input).filter((k) => k !== 'session_id').concat('extra'))] = 'h'.repeat(100_000 + r.int(200_000));
    let text = JSON.stringify(input);
    if (kind === 'proto-keys') text = `{"__proto__":{"isAdmin":true,"permissions":["*"]},"constructor":{"prototype":{"x":1}},${text.slice(1)}`;
    if (kind === 'duplicate-keys') text = text.replace(/^\{/, `{"session_id":${JSON.stringify(r.hex(40))},`).replace(/\}$/, `,"title":1,"title":${JSON.stringify(this.str())}}`);
    let body = Buffer.from(text);
    if (kind === 'non-object') body = Buffer.from(JSON.stringify(r.pick<unknown>([[input], 'text', 42, null, true, ''])));
    if (kind === 'invalid-utf8') body = Buffer.concat([Buffer.from(text.slice(0, -1)), Buffer.from(r.pick([[0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]])), Buffer.from(',"x":"y"}')]);
    if (kind === 'truncated') body = body.subarray(0, Math.max(1, r.int(body.length - 1)));
    if (kind === 'deep') {
      const n = 65 + r.int(20_000);
      body = Buffer.from(`{"session_id":"${this.sid}","settings":${'['.repeat(n)}${']'.repeat(n)}}`);
    }
    if (kind === 'wrong-content-type') {
      const ct = r.pick([null, 'text/plain', 'text/json', 'multipart/form-data', 'application/jsonx', 'application/x-www-form-urlencoded']);
      if (ct === null) delete headers['Content-Type'];
      else headers['Content-Type'] = ct;
    }
    const method = kind === 'wrong-method' ? r.pick(['GET', 'PUT', 'DELETE', 'PATCH', 'HEAD']) : 'POST';
    const websocket = route?.websocket === true;
    const transport = (kind === 'swapped-transport') !== websocket ? 'ws' : 'http';
    return { route: routeName, kind, transport, method, headers, body, text: body.toString('utf8') + JSON.stringify(headers), validSession };
  }

  // ------------------------------------------------------------------------------------------------------
  // Checks

  private check(call: Call, a: Answer, route: RouteInfo | null): void {
    const label = `${call.kind} ${call.transport === 'ws' ? 'WS' : call.method} /API/${call.route} body=${call.body.toString('utf8').slice(0, 160)}`;
    const bad = (what: string): void => this.fuzz.fail(`${what}\n    request: ${label}\n    answer: ${a.status} ${a.texts.join(' | ').slice(0, 400)}`);
    if (call.transport === 'http' && call.method !== 'POST') {
      if (a.status !== 302 || a.location !== '/Error/NoGetAPI') bad('a non-POST API call is not redirected to /Error/NoGetAPI');
      return;
    }
    if (a.status >= 500) bad(`HTTP ${a.status}`);
    if (a.status !== 0 && ![200, 400, 401, 404].includes(a.status)) bad(`unexpected HTTP status ${a.status}`);
    // A first message over the pre-session cap (64 KiB) is refused by the WebSocket protocol itself: close 1009,
    // "message too big", before a byte of it is parsed. Every other WebSocket call gets a JSON answer.
    const tooBig = call.transport === 'ws' && call.body.length > SESSIONLESS_MAX_BYTES && a.closeCode === 1009;
    if (call.transport === 'ws' && a.texts.length === 0 && !tooBig) bad(`the WebSocket closed without an answer (close code ${a.closeCode})`);
    for (const text of a.texts) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        bad('the answer is not JSON');
        continue;
      }
      if (!isObject(json)) {
        bad('the answer is not a JSON object');
        continue;
      }
      this.checkShape(json, a.status, bad);
      for (const p of STACK_PATTERNS) if (p.test(text)) bad(`the answer shows a stack trace or source path (${p})`);
      for (const m of HASH_MARKERS) if (text.includes(m) && !call.text.includes(m)) bad(`the answer contains a password hash marker '${m}'`);
      for (const c of this.canaries.secrets) if (text.includes(c) && !call.text.includes(c)) bad(`the answer contains another user's secret '${c}'`);
      // The owner's administrative routes are about other users by design; everyone else's answers name only them.
      if (!(!this.accounts && route !== null && route.permission !== null && ABOUT_OTHER_USERS.has(route.permission))) this.checkOwnNames(json, call, bad);
    }
    const last = a.json;
    if (!isObject(last)) return;
    const errorId = last.error_id;
    if (call.kind === 'wrong-content-type' && call.transport === 'http' && route && JSON.stringify(last) !== JSON.stringify({ error: 'Wrong content type', error_id: 'basic_api' })) bad('a wrong content type is not refused with basic_api');
    if (['invalid-utf8', 'non-object', 'deep', 'truncated'].includes(call.kind) && call.transport === 'http' && errorId !== 'internal_error' && errorId !== 'basic_api') bad('a malformed body is not refused with internal_error');
    if (call.kind === 'swapped-transport' && route && call.validSession && errorId !== 'bad_request_method') bad('a call over the wrong transport is not refused with bad_request_method');
    if (!route && call.validSession && call.kind !== 'bad-session' && errorId !== 'bad_route' && errorId !== 'basic_api' && errorId !== 'internal_error' && a.status !== 0) bad('an unknown route is not refused with bad_route');
  }

  private checkShape(json: Record<string, unknown>, status: number, bad: (w: string) => void): void {
    if ('error_id' in json) {
      const id = json.error_id;
      if (typeof id !== 'string' || !Object.hasOwn(ERROR_IDS, id)) return bad(`error_id ${JSON.stringify(id)} is not in the registry`);
      const def = ERROR_IDS[id as keyof typeof ERROR_IDS];
      if (status !== 0 && status !== def.status && !(id === 'internal_error' && status === 200)) bad(`error_id ${id} answered with HTTP ${status}, the registry says ${def.status}`);
      if ('error' in json && typeof json.error !== 'string') bad('error is not a string');
      if (Object.keys(json).some((k) => k !== 'error' && k !== 'error_id')) bad('an envelope error carries other fields');
    } else if ('error' in json) {
      if (typeof json.error !== 'string' || json.error === '') bad('a soft error without a text');
    } else if (status !== 200 && status !== 0) bad(`HTTP ${status} without an error_id`);
  }

  /** Fields naming a user must name the caller. */
  private checkOwnNames(json: unknown, call: Call, bad: (w: string) => void, depth = 0): void {
    if (depth > 6 || typeof json !== 'object' || json === null) return;
    for (const [k, v] of Object.entries(json)) {
      if ((k === 'user_id' || k === 'user_name' || k === 'author') && typeof v === 'string' && v !== this.userId) bad(`the answer names user '${v}' in ${k}`);
      else this.checkOwnNames(v, call, bad, depth + 1);
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // The loop

  async send(call: Call): Promise<Answer> {
    const path = `/API/${call.route}`;
    if (call.transport === 'ws') {
      this.fuzz.result.webSocketCalls++;
      const s = await socketCall(this.t.base, path, Object.fromEntries(Object.entries(call.headers).filter(([k]) => k !== 'Content-Type')), call.body);
      const last = s.messages[s.messages.length - 1];
      return { status: 0, json: last?.json, texts: s.messages.map((m) => m.text), location: undefined, setCookie: [], closeCode: s.code };
    }
    const hasBody = call.method !== 'GET' && call.method !== 'HEAD';
    const a = await httpCall(this.t.base, { path, method: call.method, headers: call.headers, body: hasBody ? call.body : null }, call.kind === 'huge' ? false : this.agent);
    return { status: a.status, json: a.json, texts: call.method === 'POST' && a.status !== 302 ? [a.text] : [], location: a.location, setCookie: a.setCookie };
  }

  async step(all: RouteInfo[]): Promise<void> {
    const r = this.rng;
    const route = r.chance(0.03) ? null : r.pick(all);
    const name = route ? (r.chance(0.05) ? route.name.toLowerCase() : route.name) : r.pick(BOGUS_ROUTES);
    const call = await this.build(route, name);
    const res = this.fuzz.result;
    res.requests++;
    res.byRoute[route?.name ?? '(unknown route)'] = (res.byRoute[route?.name ?? '(unknown route)'] ?? 0) + 1;
    res.byKind[call.kind] = (res.byKind[call.kind] ?? 0) + 1;
    let answer: Answer;
    try {
      answer = await this.send(call);
    } catch (err) {
      if (call.kind === 'huge' || (call.kind === 'deep' && call.transport === 'ws')) return; // a payload past the size limit may be cut off
      this.fuzz.fail(`no answer (${(err as Error).message}) to ${call.kind} ${call.transport} /API/${call.route}`);
      return;
    }
    this.check(call, answer, route);
    const refused = isRefusal(answer);
    if (refused) res.refused++;
    else res.succeeded++;
    if (!refused) await this.learn(call, answer, route);
    // Writing routes are checked after every call; the others every 25 calls, so a reader that writes shows too.
    const writes = !route || route.userUpdate || route.permission === null;
    if (!writes && ++this.sinceCheck < 25) return;
    this.sinceCheck = 0;
    const now = await snapshot(this.t, this.userId, this.sid, this.agent);
    if (!now.alive) {
      if (refused || !writes) this.fuzz.fail(`a refused ${call.kind} /API/${call.route} ended the lane's own session`);
      await this.connect();
      return;
    }
    if (now.text !== this.state) {
      if (refused || !writes) this.fuzz.fail(`a ${refused ? 'refused' : 'non-writing'} call changed the user's data: ${describeDiff(this.state, now.text)}\n    request: ${call.kind} /API/${call.route} ${call.body.toString('utf8').slice(0, 300)}\n    answer: ${answer.texts.join(' | ').slice(0, 300)}`);
      this.state = now.text;
    }
  }

  /** Keeps track of what a successful call created or changed. */
  private async learn(call: Call, a: Answer, route: RouteInfo | null): Promise<void> {
    if (!route || !isObject(a.json)) return;
    let input: Record<string, unknown> = {};
    try {
      input = JSON.parse(call.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return;
    }
    if (route.name === 'AddNewPreset' && typeof input.title === 'string') this.titles.add(input.title.trim());
    if (route.name === 'CreateAuthToken' && typeof a.json.token === 'string') this.tokenIds.push(a.json.token.split('.')[1]!);
    if (route.name === 'ChangePassword' && call.transport === 'http') {
      // The change ended every other login of the lane, its spare token included: make a new one.
      this.clientPassword = tokenText(input.newPassword);
      if (this.accounts) this.spareToken = (await this.t.ok('CreateAuthToken', { session_id: this.sid, reason: 'fuzz lane spare' })).token as string;
    }
  }
}

async function register(t: Target, name: string, password: string): Promise<void> {
  const a = await t.api('RegisterBasic', { username: name, password: await prehash(name, password) });
  if (!isObject(a.json) || a.json.success !== 'true') throw new Error(`could not register ${name}: ${a.text}`);
}

/** Plants the victim's secrets; returns them (they must never reach another user). */
async function plantVictim(t: Target, rng: Rng, victim: Lane): Promise<{ secrets: string[]; titles: string[] }> {
  const tag = (what: string): string => `victim-${what}-${rng.hex(10)}`;
  const secrets: string[] = [];
  const titles: string[] = [];
  const sid = victim.sid;
  for (let i = 0; i < 3; i++) {
    const title = `Victim Preset ${rng.hex(6)}`;
    const description = tag('description');
    const prompt = tag('prompt');
    await t.ok('AddNewPreset', { session_id: sid, title, description, param_map: { prompt }, preview_image: tinyJpegDataUrl() });
    titles.push(title);
    secrets.push(description, prompt);
  }
  for (const keyType of KEY_TYPES) {
    const key = tag(`key-${keyType}`);
    await t.ok('SetAPIKey', { session_id: sid, keyType, key });
    secrets.push(key);
  }
  const star = tag('star');
  const link = tag('link');
  const edit = tag('edit');
  const reason = tag('reason');
  await t.ok('SetStarredModels', { session_id: sid, 'Stable-Diffusion': [star] });
  await t.ok('SetPresetLinks', { session_id: sid, 'Stable-Diffusion': { [link]: [titles[0]] } });
  await t.ok('SetParamEdits', { session_id: sid, edits: { [edit]: { visible: false } } });
  const token = (await t.ok('CreateAuthToken', { session_id: sid, reason })).token as string;
  secrets.push(star, link, edit, reason, token, token.split('.')[2]!, victim.spareToken, sid);
  return { secrets, titles };
}

async function accountsPhase(fuzz: Fuzz, routes: RouteInfo[], rng: Rng, requests: number, lanes: number): Promise<void> {
  const server = await TestServer.start({ settings: ACCOUNTS_ON });
  const t = new Target(server, fuzz);
  try {
    const names = Array.from({ length: lanes }, (_, i) => `fuzzer_${i}`);
    for (const n of ['victim_user', ...names]) await register(t, n, `${n}-password`);
    const victim = new Lane(t, rng, 'victim_user', await prehash('victim_user', 'victim_user-password'), true, { secrets: [] }, { names: [], titles: [], tokenIds: [] });
    await victim.connect();
    const planted = await plantVictim(t, rng, victim);
    const victimTokens = ((await t.ok('ListMyAuthTokens', { session_id: victim.sid })).tokens as { id: string }[]).map((x) => x.id);
    victim.state = (await snapshot(t, victim.userId, victim.sid, victim.agent)).text;
    const lanesList = await Promise.all(
      names.map(async (n, i) => {
        const lane = new Lane(t, mulberry32(fuzz.opts.seed + 1000 + i), n, await prehash(n, `${n}-password`), true, { secrets: [] }, { names: ['victim_user', ...names.filter((x) => x !== n)], titles: planted.titles, tokenIds: victimTokens });
        await lane.connect();
        const key = `lane-${n}-key-${rng.hex(10)}`;
        await t.ok('SetAPIKey', { session_id: lane.sid, keyType: 'civitai_api', key });
        lane.state = (await snapshot(t, lane.userId, lane.sid, lane.agent)).text;
        return { lane, key };
      }),
    );
    // Every lane's own API key is a secret too: no route returns a stored key, to its owner or anyone else.
    const allKeys = lanesList.map((l) => l.key);
    for (const { lane } of lanesList) lane.canaries.secrets.push(...planted.secrets, ...allKeys);
    const per = Math.floor(requests / lanes);
    let done = 0;
    await Promise.all(
      lanesList.map(async ({ lane }, i) => {
        const mine = per + (i < requests - per * lanes ? 1 : 0);
        for (let k = 0; k < mine && !fuzz.stopped; k++) {
          await lane.step(routes);
          if (++done % 5000 === 0) fuzz.opts.progress?.(`accounts phase: ${done}/${requests} calls, ${fuzz.result.failures.length} violations`);
          if (done % 2000 === 0) await checkVictim(t, fuzz, victim);
        }
      }),
    );
    await checkVictim(t, fuzz, victim);
    for (const { lane } of lanesList) lane.agent.destroy();
    victim.agent.destroy();
    if (server.proc.exitCode !== null) fuzz.fail(`the server exited with code ${server.proc.exitCode}`);
  } finally {
    t.close();
    await server.close();
  }
}

async function checkVictim(t: Target, fuzz: Fuzz, victim: Lane): Promise<void> {
  const now = await snapshot(t, victim.userId, victim.sid, victim.agent);
  if (!now.alive) fuzz.fail("the victim's session was ended by another user's calls");
  else if (now.text !== victim.state) fuzz.fail(`the victim's data changed: ${describeDiff(victim.state, now.text)}`);
}

async function ownerPhase(fuzz: Fuzz, routes: RouteInfo[], rng: Rng, requests: number): Promise<void> {
  const server = await TestServer.start();
  const t = new Target(server, fuzz);
  try {
    const lane = new Lane(t, rng, 'local', '', false, { secrets: [] }, { names: ['victim_user'], titles: ['Nobody Preset'], tokenIds: [] });
    await lane.connect();
    const key = `owner-key-${rng.hex(10)}`;
    await t.ok('SetAPIKey', { session_id: lane.sid, keyType: 'huggingface_api', key });
    lane.canaries.secrets.push(key);
    lane.state = (await snapshot(t, lane.userId, lane.sid, lane.agent)).text;
    for (let k = 0; k < requests && !fuzz.stopped; k++) {
      await lane.step(routes);
      if ((k + 1) % 5000 === 0) fuzz.opts.progress?.(`owner phase: ${k + 1}/${requests} calls, ${fuzz.result.failures.length} violations`);
    }
    lane.agent.destroy();
    if (server.proc.exitCode !== null) fuzz.fail(`the server exited with code ${server.proc.exitCode}`);
  } finally {
    t.close();
    await server.close();
  }
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const start = performance.now();
  const routes = await loadRoutes();
  const fuzz = new Fuzz(opts, routes);
  const rng = mulberry32(opts.seed);
  const owner = Math.round(opts.requests * (opts.ownerShare ?? 0.2));
  await accountsPhase(fuzz, routes, rng, opts.requests - owner, opts.lanes ?? 4);
  if (!fuzz.stopped) await ownerPhase(fuzz, routes, mulberry32(opts.seed + 1), owner);
  fuzz.result.durationMs = performance.now() - start;
  return fuzz.result;
}
