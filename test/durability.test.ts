// Durability: a storm of writes over every writing route from concurrent clients, `kill -9` of the server in
// the middle of it, a restart on the same data, and every write the server acknowledged is there, intact.
// Five rounds on one SQLite data dir and five on one PostgreSQL database; each round also re-checks the
// users of the earlier rounds. A write in flight at the kill may or may not have landed: each client has at
// most one, and its state must match "acknowledged writes only" or "acknowledged writes plus that one".
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { loadRoutes } from '../bench/routes.js';
import { mulberry32, type Rng } from '../bench/prng.js';
import { TestServer, needsService, prehash, type ApiResponse } from './helpers/server.js';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';

const ROUNDS = 5;
const CLIENTS = 4;
/** Acknowledged writes per round before the kill (the kill lands while every client has one in flight). */
const WRITES_PER_ROUND = 150;
const KEY_TYPES = ['stability_api', 'civitai_api', 'huggingface_api'];

/**
 * Every route that writes, and how the storm covers it. Routes declared as acting for the user or needing no
 * session are the candidates; the test below checks this table against the server's own route list.
 */
const WRITING_ROUTES = [
  'RegisterBasic', // a new account: it logs in after the restart
  'Login', // a login token: it opens sessions after the restart
  'GetNewSession', // a session: it answers after the restart
  'AddNewPreset', // presets, new and edited: same title, description and parameters after the restart
  'DuplicatePreset',
  'DeletePreset',
  'SetStarredModels',
  'SetPresetLinks',
  'SetParamEdits', // no route reads these back yet, so they are read from the database
  'ChangeUserSettings',
  'SetAPIKey', // GetAPIKeyStatus reports set / not set
  'CreateAuthToken',
  'RevokeMyAuthToken',
  'Logout',
  'ChangePassword', // the new password logs in, the old one does not; other logins ended
  'InstallConfirmWS', // once per server: afterwards it answers "already installed"
];
/** Administrative writes, made by the owner beside the storm (AdminWriter below). */
const ADMIN_WRITING_ROUTES = ['AdminAddRole', 'AdminEditRole', 'AdminDeleteRole', 'AdminAddUser', 'AdminSetUserPassword', 'AdminChangeUserSettings', 'AdminDeleteUser', 'ChangeServerSettings', 'AdminSetUserOAuthEmail'];
/**
 * Writing routes that need an identity provider's sign-in first (RegisterOAuth) or a linked provider account
 * (UnlinkMyOAuth). Both write the same oauth_links row as AdminSetUserOAuthEmail, which the owner's writes cover
 * here, through the same store call; test/oidc.test.ts drives them against a real provider.
 */
const PROVIDER_ROUTES = ['RegisterOAuth', 'UnlinkMyOAuth'];
/** Candidates that keep nothing: InterruptAll and AdminInterruptUser stop in-memory work only. */
const NOTHING_DURABLE = ['InterruptAll', 'AdminInterruptUser'];

const ACCOUNTS = {
  'UserAuthorization.AuthorizationRequired': true,
  // The installer runs as the local owner (no forwarded address); the storm's clients come through the proxy.
  'UserAuthorization.AllowLocalhostBypass': true,
  'UserAuthorization.Registration.AllowRegistration': true,
  'UserAuthorization.Registration.SimplePasswordRegistration': true,
  'Network.TrustedProxies': '127.0.0.1',
};

let addressNo = 0;
const via = (): Record<string, string> => ({ 'X-Forwarded-For': `10.9.${(++addressNo >> 8) & 255}.${addressNo & 255}` });

interface Preset {
  description: string;
  prompt: string;
}

/** What a user's data must be after the restart. */
interface Model {
  password: string;
  presets: Record<string, Preset>;
  starred: unknown;
  links: unknown;
  paramEdits: unknown;
  promptLines: number;
  keys: Record<string, boolean>;
  /** Raw login token -> whether it must still open sessions. */
  tokens: Record<string, boolean>;
  /** Session id -> whether it must still answer. */
  sessions: Record<string, boolean>;
  /** Session id -> the login token it was opened with (ending the token ends its sessions). */
  sessionTokens: Record<string, string>;
}

/** A token is gone: so are the sessions opened with it. */
function endToken(m: Model, token: string): void {
  m.tokens[token] = false;
  for (const [sid, t] of Object.entries(m.sessionTokens)) if (t === token) m.sessions[sid] = false;
}

const clone = (m: Model): Model => structuredClone(m);

/** The first free "<title> (n)" name, as DuplicatePreset picks it. */
function duplicateName(presets: Record<string, Preset>, title: string): string {
  const taken = new Set(Object.keys(presets).map((t) => t.toLowerCase()));
  for (let n = 2; ; n++) if (!taken.has(`${title} (${n})`.toLowerCase())) return `${title} (${n})`;
}

type Op = { route: string; body: Record<string, unknown>; headers?: Record<string, string>; apply: (m: Model, answer: Record<string, unknown>) => void };

/** Reads stored parameter edits, which no route returns. */
interface EditsReader {
  read(userId: string): Promise<unknown>;
}

class Client {
  readonly userId: string;
  model: Model;
  /** The acknowledged model plus the write in flight at the kill, if there was one. */
  inflight: Model | null = null;
  mainSid = '';
  mainToken = '';
  private counter = 0;
  private changedPassword = false;

  constructor(
    readonly rng: Rng,
    name: string,
  ) {
    this.userId = name;
    this.model = { password: `${name}-pw-${randomBytes(4).toString('hex')}`, presets: {}, starred: {}, links: {}, paramEdits: '', promptLines: 0, keys: {}, tokens: {}, sessions: {}, sessionTokens: {} };
  }

  private async call(server: TestServer, op: Op): Promise<ApiResponse> {
    return server.api(op.route, op.body, { ...via(), ...(op.headers ?? {}) });
  }

  /** Registers and logs in; both are writes of the storm. */
  async start(server: TestServer): Promise<void> {
    const pw = await prehash(this.userId, this.model.password);
    const reg = await server.api('RegisterBasic', { username: this.userId, password: pw }, via());
    assert.deepEqual(reg.body, { success: 'true' }, `RegisterBasic ${this.userId}`);
    const li = await server.api('Login', { username: this.userId, password: pw }, via());
    this.mainToken = /swarm_token=([^;]+)/.exec(li.headers.get('set-cookie') ?? '')?.[1] ?? '';
    assert.notEqual(this.mainToken, '', `Login ${this.userId}: ${li.text}`);
    this.model.tokens[this.mainToken] = true;
    this.mainSid = (await server.api('GetNewSession', {}, { Cookie: `swarm_token=${this.mainToken}`, ...via() })).body.session_id as string;
    assert.match(this.mainSid, /^[0-9a-f]{52}$/);
    this.model.sessions[this.mainSid] = true;
    this.model.sessionTokens[this.mainSid] = this.mainToken;
    const settings = (await server.call('GetUserSettings', this.mainSid)).body.settings as Record<string, { value: number }>;
    assert.equal(typeof settings.maxpromptlines?.value, 'number', 'the maxpromptlines setting exists');
    this.model.promptLines = settings.maxpromptlines!.value;
  }

  /** The next write: picked at random among those that make sense for the user's current state. */
  private async nextOp(server: TestServer): Promise<Op> {
    const r = this.rng;
    const sid = this.mainSid;
    const titles = Object.keys(this.model.presets);
    const liveTokens = Object.keys(this.model.tokens).filter((t) => this.model.tokens[t] && t !== this.mainToken);
    const tag = `${this.userId}-${++this.counter}`;
    const kind = r.weighted({ add: 6, edit: 3, duplicate: 2, delete: 2, star: 2, links: 2, edits: 2, setting: 2, key: 3, token: 2, revoke: 1, session: 2, logout: 1, password: this.changedPassword ? 0 : 1 });
    switch (kind) {
      case 'edit':
      case 'add': {
        const editing = kind === 'edit' && titles.length ? r.pick(titles) : null;
        const title = editing ?? `Preset ${tag}`;
        const preset = { description: `description ${tag} ${'x'.repeat(r.int(200))}`, prompt: `prompt ${tag} ünïcödé ✓` };
        return {
          route: 'AddNewPreset',
          body: { session_id: sid, title, description: preset.description, param_map: { prompt: preset.prompt, steps: 20 }, is_edit: editing !== null, editing: editing ?? undefined },
          apply: (m) => void (m.presets[title] = preset),
        };
      }
      case 'duplicate': {
        if (!titles.length) return this.nextOp(server);
        const title = r.pick(titles);
        return { route: 'DuplicatePreset', body: { session_id: sid, preset: title }, apply: (m) => void (m.presets[duplicateName(m.presets, title)] = { ...m.presets[title]! }) };
      }
      case 'delete': {
        if (!titles.length) return this.nextOp(server);
        const title = r.pick(titles);
        return { route: 'DeletePreset', body: { session_id: sid, preset: title }, apply: (m) => void delete m.presets[title] };
      }
      case 'star': {
        const starred = { 'Stable-Diffusion': [`model-${tag}.safetensors`] };
        return { route: 'SetStarredModels', body: { session_id: sid, ...starred }, apply: (m) => void (m.starred = starred) };
      }
      case 'links': {
        const links = { 'Stable-Diffusion': { [`model-${tag}`]: titles.slice(0, 2) } };
        return { route: 'SetPresetLinks', body: { session_id: sid, ...links }, apply: (m) => void (m.links = links) };
      }
      case 'edits': {
        const edits = { [`param-${tag}`]: { visible: r.chance(0.5) } };
        return { route: 'SetParamEdits', body: { session_id: sid, edits }, apply: (m) => void (m.paramEdits = edits) };
      }
      case 'setting': {
        const lines = 11 + r.int(50);
        return { route: 'ChangeUserSettings', body: { session_id: sid, settings: { maxpromptlines: lines } }, apply: (m) => void (m.promptLines = lines) };
      }
      case 'key': {
        const keyType = r.pick(KEY_TYPES);
        const remove = r.chance(0.25);
        return { route: 'SetAPIKey', body: { session_id: sid, keyType, key: remove ? 'none' : `key-${tag}` }, apply: (m) => void (m.keys[keyType] = !remove) };
      }
      case 'token':
        return { route: 'CreateAuthToken', body: { session_id: sid, reason: `storm ${tag}` }, apply: (m, a) => void (m.tokens[a.token as string] = true) };
      case 'revoke': {
        if (!liveTokens.length) return this.nextOp(server);
        const token = r.pick(liveTokens);
        return {
          route: 'RevokeMyAuthToken',
          body: { session_id: sid, tokenId: token.split('.')[1] },
          apply: (m) => endToken(m, token),
        };
      }
      case 'session': {
        if (!liveTokens.length) return this.nextOp(server);
        const token = r.pick(liveTokens);
        return { route: 'GetNewSession', body: {}, headers: { 'X-Swarm-Token': token }, apply: (m, a) => {
            m.sessions[a.session_id as string] = true;
            m.sessionTokens[a.session_id as string] = token;
          },
        };
      }
      case 'logout': {
        if (!liveTokens.length) return this.nextOp(server);
        const token = r.pick(liveTokens);
        // The session to log out of is made first; it is a write of its own, acknowledged before the Logout.
        const made = await server.api('GetNewSession', {}, { 'X-Swarm-Token': token, ...via() });
        const logoutSid = made.body.session_id as string;
        assert.match(logoutSid, /^[0-9a-f]{52}$/, made.text);
        this.model.sessions[logoutSid] = true;
        this.model.sessionTokens[logoutSid] = token;
        return { route: 'Logout', body: { session_id: logoutSid }, apply: (m) => endToken(m, token) };
      }
      case 'password': {
        const password = `${this.userId}-pw-${randomBytes(4).toString('hex')}`;
        this.changedPassword = true; // one per round: the route allows five a minute
        return {
          route: 'ChangePassword',
          body: { session_id: sid, oldPassword: await prehash(this.userId, this.model.password), newPassword: await prehash(this.userId, password) },
          apply: (m) => {
            m.password = password;
            for (const t of Object.keys(m.tokens)) if (t !== this.mainToken) m.tokens[t] = false;
            for (const s of Object.keys(m.sessions)) if (s !== this.mainSid) m.sessions[s] = false;
          },
        };
      }
    }
  }

  /** Writes until `stop()` says so, calling `acked` for each acknowledged write. */
  async storm(server: TestServer, acked: () => void, stop: () => boolean): Promise<void> {
    this.changedPassword = false;
    while (!stop()) {
      let op: Op;
      try {
        op = await this.nextOp(server);
      } catch (err) {
        if (stop()) return; // the kill came while preparing the write
        throw err;
      }
      // A write that creates something (a token, a session) leaves nothing to check while its answer is unknown.
      const creates = op.route === 'CreateAuthToken' || op.route === 'GetNewSession';
      this.inflight = creates ? null : clone(this.model);
      if (this.inflight) op.apply(this.inflight, {});
      let answer: ApiResponse;
      try {
        answer = await this.call(server, op);
      } catch {
        return; // the server was killed with this write in flight
      }
      const body = answer.body;
      const success = answer.status === 200 && (body.success === true || body.success === 'true' || typeof body.token === 'string' || typeof body.session_id === 'string');
      if (!success) {
        if (stop()) return; // refused because the server went away mid-call: cannot be a refusal the storm caused
        assert.fail(`${op.route} was refused: ${answer.status} ${answer.text}`);
      }
      op.apply(this.model, body);
      this.inflight = null;
      acked();
    }
  }

  /** What the server shows for this user now, in the model's terms. */
  async observe(server: TestServer, edits: EditsReader, candidates: Model[]): Promise<Partial<Model>> {
    const tokens: Record<string, boolean> = {};
    const sessions: Record<string, boolean> = {};
    for (const m of candidates) {
      for (const t of Object.keys(m.tokens)) tokens[t] = false;
      for (const s of Object.keys(m.sessions)) sessions[s] = false;
    }
    for (const s of Object.keys(sessions)) {
      const a = await server.call('GetCurrentStatus', s);
      assert.ok(a.status === 200 || a.status === 401, a.text);
      sessions[s] = a.status === 200;
    }
    for (const t of Object.keys(tokens)) {
      const a = await server.api('GetNewSession', {}, { 'X-Swarm-Token': t, ...via() });
      tokens[t] = typeof a.body.session_id === 'string';
    }
    // Which password logs in (each candidate's); a login made here is not part of any model.
    let password = '';
    let sid = '';
    for (const pw of new Set(candidates.map((m) => m.password))) {
      const li = await server.api('Login', { username: this.userId, password: await prehash(this.userId, pw) }, via());
      const token = /swarm_token=([^;]+)/.exec(li.headers.get('set-cookie') ?? '')?.[1];
      if (!token) continue;
      assert.equal(password, '', `both passwords of ${this.userId} log in`);
      password = pw;
      sid = (await server.api('GetNewSession', {}, { Cookie: `swarm_token=${token}`, ...via() })).body.session_id as string;
    }
    assert.notEqual(sid, '', `no password of ${this.userId} logs in after the restart`);
    const data = (await server.call('GetMyUserData', sid)).body;
    const presets: Record<string, Preset> = {};
    for (const p of data.presets as { title: string; description: string; param_map: { prompt: string } }[]) presets[p.title] = { description: p.description, prompt: p.param_map.prompt };
    const settings = (await server.call('GetUserSettings', sid)).body.settings as Record<string, { value: number }>;
    const keys: Record<string, boolean> = {};
    for (const m of candidates) for (const k of Object.keys(m.keys)) keys[k] = (await server.call('GetAPIKeyStatus', sid, { keyType: k })).body.status !== 'not set';
    return { password, presets, starred: data.starred_models, links: data.model_preset_links, paramEdits: await edits.read(this.userId), promptLines: settings.maxpromptlines!.value, keys, tokens, sessions };
  }
}

/** The model restricted to what `observe` reads back (tokens and sessions it knows, keys ever set). */
function expected(m: Model, observed: Partial<Model>): Partial<Model> {
  const pick = <T>(o: Record<string, T>, keys: Record<string, unknown>): Record<string, T | false> => Object.fromEntries(Object.keys(keys).map((k) => [k, o[k] ?? false]));
  return { password: m.password, presets: m.presets, starred: m.starred, links: m.links, paramEdits: m.paramEdits, promptLines: m.promptLines, keys: pick(m.keys, observed.keys!), tokens: pick(m.tokens, observed.tokens!), sessions: pick(m.sessions, observed.sessions!) };
}

/** JSON with object keys sorted, so equal data compares equal whatever the insertion order. */
function canon(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
}

async function verify(server: TestServer, edits: EditsReader, client: Client): Promise<void> {
  const candidates = client.inflight ? [client.model, client.inflight] : [client.model];
  const seen = await client.observe(server, edits, candidates);
  const match = candidates.find((m) => canon(expected(m, seen)) === canon(seen));
  if (!match) assert.deepEqual(seen, expected(client.model, seen), `${client.userId}: acknowledged writes are missing or changed after the kill`);
  client.model = match!;
  client.inflight = null;
}

/** What the owner's administrative writes must have left after the restart. */
interface AdminModel {
  /** Custom role -> its description. */
  roles: Record<string, string>;
  title: string;
  /** User -> [password, maxpromptlines]. */
  users: Record<string, [string, number]>;
  /** User -> the provider e-mail linked to it (AdminSetUserOAuthEmail); users without one are absent. */
  emails: Record<string, string>;
}

/**
 * The owner (the localhost bypass) writing through the AdminAPI beside the storm: roles, a server setting and
 * accounts, each write acknowledged before the next; the one in flight at the kill may or may not have landed.
 */
class AdminWriter {
  model: AdminModel = { roles: {}, title: 'Local', users: {}, emails: {} };
  inflight: AdminModel | null = null;
  /** Acknowledged writes over all rounds. */
  writes = 0;
  private counter = 0;
  constructor(private readonly rng: Rng) {}

  private nextOp(): { route: string; body: Record<string, unknown>; apply: (m: AdminModel) => void } {
    const r = this.rng;
    const tag = `${++this.counter}${r.int(1000)}`;
    const roles = Object.keys(this.model.roles);
    const users = Object.keys(this.model.users);
    const role = (name: string, description: string): Record<string, unknown> => ({ name, description, max_outpath_depth: 5, max_t2i_simultaneous: 2, allow_unsafe_outpaths: false, model_whitelist: '', model_blacklist: '', permissions: 'fundamental_model_access' });
    const kind = r.weighted({ addRole: 3, editRole: roles.length ? 3 : 0, deleteRole: roles.length ? 1 : 0, title: 2, addUser: 3, password: users.length ? 2 : 0, settings: users.length ? 2 : 0, email: users.length ? 2 : 0, deleteUser: users.length ? 1 : 0 });
    switch (kind) {
      case 'addRole': {
        const name = `role_${tag}`;
        return { route: 'AdminAddRole', body: { name }, apply: (m) => void (m.roles[name] = '') };
      }
      case 'editRole': {
        const name = r.pick(roles);
        const description = `described ${tag}`;
        return { route: 'AdminEditRole', body: role(name, description), apply: (m) => void (m.roles[name] = description) };
      }
      case 'deleteRole': {
        const name = r.pick(roles);
        return { route: 'AdminDeleteRole', body: { name }, apply: (m) => void delete m.roles[name] };
      }
      case 'title': {
        const title = `Studio ${tag}`;
        return { route: 'ChangeServerSettings', body: { settings: { 'UserAuthorization.InstanceTitle': title } }, apply: (m) => void (m.title = title) };
      }
      case 'addUser': {
        const name = `member_${tag}`;
        const password = `member password ${tag}`;
        return { route: 'AdminAddUser', body: { name, password, role: 'user' }, apply: (m) => void (m.users[name] = [password, 0]) };
      }
      case 'password': {
        const name = r.pick(users);
        const password = `reset password ${tag}`;
        return { route: 'AdminSetUserPassword', body: { name, password }, apply: (m) => void (m.users[name] = [password, m.users[name]![1]]) };
      }
      case 'settings': {
        const name = r.pick(users);
        const lines = 11 + r.int(50);
        return { route: 'AdminChangeUserSettings', body: { name, settings: { maxpromptlines: lines } }, apply: (m) => void (m.users[name] = [m.users[name]![0], lines]) };
      }
      case 'email': {
        const name = r.pick(users);
        // Mostly a new address; sometimes an empty one, which removes the link.
        const email = r.int(4) === 0 ? '' : `${name}.${tag}@example.com`;
        return {
          route: 'AdminSetUserOAuthEmail',
          body: { name, email },
          apply: (m) => {
            if (email === '') delete m.emails[name];
            else m.emails[name] = email;
          },
        };
      }
      default: {
        const name = r.pick(users);
        return {
          route: 'AdminDeleteUser',
          body: { name },
          apply: (m) => {
            delete m.users[name];
            delete m.emails[name];
          },
        };
      }
    }
  }

  async storm(server: TestServer, owner: string, acked: () => void, stop: () => boolean): Promise<void> {
    while (!stop()) {
      const op = this.nextOp();
      this.inflight = structuredClone(this.model);
      op.apply(this.inflight);
      let answer: ApiResponse;
      try {
        answer = await server.call(op.route, owner, op.body);
      } catch {
        return; // killed with this write in flight
      }
      if (!(answer.status === 200 && answer.body.success === true)) {
        if (stop()) return;
        assert.fail(`${op.route} was refused: ${answer.status} ${answer.text}`);
      }
      op.apply(this.model);
      this.inflight = null;
      this.writes++;
      acked();
    }
  }

  /** What the server shows now, in the model's terms (users' prompt-line setting 0 when never set). */
  async observe(server: TestServer, owner: string, candidates: AdminModel[]): Promise<AdminModel> {
    const listed = (await server.call('AdminListRoles', owner)).body.roles as Record<string, { description: string; is_auto_generated: boolean }>;
    const known = new Set(candidates.flatMap((m) => Object.keys(m.roles)));
    const roles = Object.fromEntries(Object.entries(listed).filter(([name]) => known.has(name)).map(([name, r]) => [name, r.description]));
    const tree = (await server.call('ListServerSettings', owner)).body.settings as Record<string, { value: Record<string, { value: unknown }> }>;
    const title = String(tree.userauthorization!.value.instancetitle!.value);
    const present = new Set((await server.call('AdminListUsers', owner)).body.users as string[]);
    const users: Record<string, [string, number]> = {};
    const emails: Record<string, string> = {};
    for (const name of new Set(candidates.flatMap((m) => Object.keys(m.users)))) {
      if (!present.has(name)) continue;
      const answer = (await server.call('AdminGetUserInfo', owner, { name })).body;
      const info = answer.settings as Record<string, { value: unknown }>;
      if (answer.oauth_email) emails[name] = String(answer.oauth_email);
      const lines = candidates.some((m) => m.users[name]?.[1] === info.maxpromptlines?.value) ? Number(info.maxpromptlines?.value) : 0;
      // The password that logs in, among the candidates' (a login made here is not part of any model).
      let password = '';
      for (const pw of new Set(candidates.map((m) => m.users[name]?.[0]).filter((p): p is string => p !== undefined))) {
        if ((await server.api('Login', { username: name, password: pw }, via())).headers.get('set-cookie')?.includes('swarm_token=')) password = pw;
      }
      users[name] = [password, lines];
    }
    return { roles, title, users, emails };
  }
}

async function verifyAdmin(server: TestServer, writer: AdminWriter): Promise<void> {
  const owner = await server.session();
  const candidates = writer.inflight ? [writer.model, writer.inflight] : [writer.model];
  const seen = await writer.observe(server, owner, candidates);
  const match = candidates.find((m) => canon(m) === canon(seen));
  if (!match) assert.deepEqual(seen, writer.model, 'acknowledged administrative writes are missing or changed after the kill');
  writer.model = match!;
  writer.inflight = null;
}

async function runRounds(start: () => Promise<TestServer>, edits: EditsReader, seed: number): Promise<{ acked: number; rounds: number }> {
  const rng = mulberry32(seed);
  const clients: Client[] = [];
  const admin = new AdminWriter(mulberry32(seed * 7 + 1));
  let total = 0;
  let server = await start();
  try {
    // The installer: acknowledged once, then the server must say it is installed after every restart.
    const owner = await server.session();
    const themes = Object.keys((await server.call('GetUserSettings', owner)).body.themes as object);
    const install = await server.socket('InstallConfirmWS', { session_id: owner, theme: themes[themes.length - 1], installed_for: 'just_self', backend: 'none', models: 'none', install_amd: false, language: 'en' });
    assert.deepEqual(install.messages[install.messages.length - 1], { success: true }, JSON.stringify(install.messages));
    for (let round = 1; round <= ROUNDS; round++) {
      const fresh = Array.from({ length: CLIENTS }, (_, k) => new Client(mulberry32(seed * 100 + round * 10 + k), `storm_r${round}_c${k}`));
      await Promise.all(fresh.map((c) => c.start(server)));
      clients.push(...fresh);
      let acked = 0;
      let killed = false;
      const current = server;
      const ack = (): void => {
        acked++;
        total++;
      };
      const ownerSid = await current.session();
      const storms = [...clients.map((c) => c.storm(current, ack, () => killed)), admin.storm(current, ownerSid, ack, () => killed)];
      // Kill when enough writes are acknowledged, with every client mid-call.
      const target = WRITES_PER_ROUND + rng.int(40);
      const stormsEnded = Promise.all(storms).then(() => assert.fail('every client stopped before the kill'));
      await Promise.race([stormsEnded, (async () => {
        while (acked < target) await new Promise((r) => setTimeout(r, 5));
      })()]);
      stormsEnded.catch(() => undefined);
      killed = true;
      await current.stop('SIGKILL');
      await Promise.all(storms);
      server = await start();
      for (const c of clients) await verify(server, edits, c);
      await verifyAdmin(server, admin);
      const again = await server.socket('InstallConfirmWS', { session_id: await server.session(), theme: themes[0], installed_for: 'just_self', backend: 'none', models: 'none', install_amd: false, language: 'en' });
      assert.deepEqual(again.messages, [{ error: 'This server is already installed.' }], `round ${round}: the installation did not survive the kill`);
    }
    assert.ok(admin.writes >= ROUNDS * 3, `only ${admin.writes} administrative writes were acknowledged`);
    return { acked: total, rounds: ROUNDS };
  } finally {
    await server.close();
  }
}

describe('durability', () => {
  test('the storm covers every route that writes', async () => {
    const routes = await loadRoutes();
    const candidates = routes.filter((r) => r.userUpdate || r.permission === null).map((r) => r.name);
    assert.deepEqual([...WRITING_ROUTES, ...ADMIN_WRITING_ROUTES, ...PROVIDER_ROUTES, ...NOTHING_DURABLE].sort(), candidates.sort());
  });

  test('SQLite: every acknowledged write of a storm survives kill -9 and restart, five times over', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-durability-'));
    const db = (): Database.Database => new Database(path.join(dataDir, 'swarmcore.db'), { readonly: true, fileMustExist: true });
    const edits: EditsReader = {
      async read(userId) {
        const conn = db();
        try {
          const row = conn.prepare('SELECT param_edits FROM users WHERE id = ?').get(userId) as { param_edits: string };
          return row.param_edits === '' ? '' : JSON.parse(row.param_edits);
        } finally {
          conn.close();
        }
      },
    };
    after(() => rmSync(dataDir, { recursive: true, force: true }));
    const r = await runRounds(() => TestServer.start({ dataDir, settings: ACCOUNTS }), edits, 11);
    assert.ok(r.acked >= ROUNDS * WRITES_PER_ROUND, `${r.acked} acknowledged writes`);
  });

  test('PostgreSQL: every acknowledged write of a storm survives kill -9 and restart, five times over', async (t) => {
    if (!needsService(t, await postgresAvailable(), 'PostgreSQL is not reachable at 127.0.0.1:5432')) return;
    const database = await createTestDatabase();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-durability-pg-'));
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    after(async () => {
      await client.end();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const edits: EditsReader = {
      async read(userId) {
        const res = await client.query<{ param_edits: string }>('SELECT param_edits FROM users WHERE id = $1', [userId]);
        const text = res.rows[0]!.param_edits;
        return text === '' ? '' : (JSON.parse(text) as unknown);
      },
    };
    const r = await runRounds(() => TestServer.start({ dataDir, databaseUrl: database.url, settings: ACCOUNTS }), edits, 12);
    assert.ok(r.acked >= ROUNDS * WRITES_PER_ROUND, `${r.acked} acknowledged writes`);
  });
});
