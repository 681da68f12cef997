// The command line (README.md#command-line): serve, user administration and settings. Every failure is one line on
// stderr and exit code 1; stack traces only with --log-level debug.
import { Command, Option } from 'commander';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pino, { type Logger } from 'pino';
import v8 from 'node:v8';
import { Core, VERSION } from './core.js';
import { startServer, ListenError } from './http/server.js';
import { cleanAccountName } from './accounts/names.js';
import { CLI_ADDRESS, type AuditEntry } from './accounts/audit.js';
import { clientPrehash } from './accounts/passwords.js';
import { LastManagerError } from './accounts/roles.js';
import { SettingValueError, UnknownSettingError } from './settings/server-settings.js';
import { renderMarkdown } from './api/docs.js';
import { openApiText } from './http/openapi.js';
import type { Extension } from './extensions.js';
import type { Services } from './services.js';
import { LOG_REDACT } from './util/log-redaction.js';
import { BackupRefusedError, backupSqlite } from './store/backup.js';
import { CopyRefusedError, copyDatabase, type CopyEnd } from './store/copy.js';
import { openPostgresStore, redactUrl } from './store/postgres/index.js';
import { SECRET_KEY_ENV, SECRET_KEY_FILE, loadSecretBox, readSecretKeyFile, secretBoxFromEnv, type SecretBox } from './store/secret-box.js';
import { connectionOf } from './store/sql.js';
import { SQLITE_FILE_NAME, openSqliteStore } from './store/sqlite/index.js';
import { describeCounts } from './store/tables.js';
import type { Store } from './store/types.js';

class CliError extends Error {}

interface StoreOptions {
  dataDir?: string;
  databaseUrl?: string;
  /** Extension modules, so their settings, permissions and roles are known here too. */
  extension?: string[];
}

function dataDirOf(o: StoreOptions): string {
  return path.resolve(o.dataDir ?? process.env.SWARMCORE_DATA_DIR ?? 'data');
}

/** Fails early, in words, when the data dir cannot be used. */
/**
 * A server holds many small long-lived objects (live sessions, caches) and makes garbage on every request. V8's
 * default lets the old generation grow to up to four times what the last full collection kept before it collects
 * again, so with 100,000 live sessions (about 27 MB of them) the process reached 225 MB, mostly garbage. Growing by
 * at most half keeps it near 180 MB for a few more full collections (bench/README.md#memory). A `--heap-growing-percent`
 * given to node (NODE_OPTIONS or the command line) is left as it is.
 */
function limitHeapGrowth(): void {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => /^--heap[-_]growing[-_]percent/.test(a));
  if (!given) v8.setFlagsFromString('--heap-growing-percent=50');
}

function checkDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new CliError(`The data directory ${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? 'error'}). Choose another with --data-dir.`);
  }
}

/** The PostgreSQL URL to use, if any (--database-url, then SWARMCORE_DATABASE_URL). */
function databaseUrlOf(o: StoreOptions): string | undefined {
  const url = o.databaseUrl ?? process.env.SWARMCORE_DATABASE_URL;
  if (url === undefined || url === '') return undefined;
  if (!/^postgres(ql)?:\/\//.test(url)) throw new CliError(`The database URL must start with postgres:// (got '${url.split(':')[0]}:...').`);
  return url;
}

function makeLogger(level: string): Logger {
  if (process.stdout.isTTY) {
    return pino({ level, redact: LOG_REDACT, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return pino({ level, redact: LOG_REDACT });
}

/** Opens the store without listening, for administration commands. */
async function withCore<T>(o: StoreOptions, fn: (core: Core, services: Services) => Promise<T>): Promise<T> {
  const databaseUrl = databaseUrlOf(o);
  const dataDir = dataDirOf(o);
  checkDataDir(dataDir);
  const core = await Core.open({ dataDir, ...(databaseUrl ? { databaseUrl } : {}), extensions: await loadExtensions(o.extension ?? []) });
  try {
    return await fn(core, core.services);
  } finally {
    await core.close();
  }
}

const isDatabaseUrl = (text: string): boolean => /^postgres(ql)?:\/\//.test(text);
const shellQuote = (text: string): string => (/^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`);

/** One end of `db copy`: a data dir (SQLite) or a PostgreSQL URL. */
interface CopySpec {
  url?: string;
  dir?: string;
  label: string;
}

function copySpecOf(text: string): CopySpec {
  if (isDatabaseUrl(text)) return { url: text, label: redactUrl(text) };
  const dir = path.resolve(text);
  return { dir, label: dir };
}

/**
 * The secret key of one end of `db copy`: the key file given for it, else SWARMCORE_SECRET_KEY, else the
 * secret.key a server on that end would use (the data dir's; for PostgreSQL, --data-dir's). A source's key must
 * exist; a target's is made when missing, as a server's first start makes it.
 */
function copyKeyOf(spec: CopySpec, keyFile: string | undefined, side: 'from' | 'to', o: StoreOptions): { box: SecretBox; where: string } {
  if (keyFile !== undefined) {
    const file = path.resolve(keyFile);
    if (!existsSync(file)) throw new CliError(`The key file ${file} does not exist.`);
    return { box: readSecretKeyFile(file), where: file };
  }
  const fromEnv = secretBoxFromEnv();
  if (fromEnv) return { box: fromEnv, where: SECRET_KEY_ENV };
  const home = spec.dir ?? dataDirOf(o);
  const file = path.join(home, SECRET_KEY_FILE);
  if (side === 'from') {
    if (!existsSync(file)) throw new CliError(`There is no secret key for the source: ${file} does not exist. Give --from-secret-key-file or set ${SECRET_KEY_ENV}.`);
    return { box: readSecretKeyFile(file), where: file };
  }
  checkDataDir(home);
  return { box: loadSecretBox(home), where: file };
}

async function openCopyEnd(spec: CopySpec, box: SecretBox, o: StoreOptions): Promise<Store> {
  try {
    if (spec.url) return await openPostgresStore(spec.url, { dataDir: dataDirOf(o), secretBox: box });
    checkDataDir(spec.dir!);
    return await openSqliteStore(spec.dir!, { secretBox: box });
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`Cannot open ${spec.label}: ${(err as Error).message}`);
  }
}

function parseSets(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new CliError(`--set needs Section.Key=value, not '${item}'.`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Imports each `--extension` module; its default export must be an Extension. */
async function loadExtensions(modules: string[]): Promise<Extension[]> {
  const out: Extension[] = [];
  for (const m of modules) {
    const file = path.resolve(m);
    let loaded: { default?: unknown };
    try {
      loaded = (await import(pathToFileURL(file).href)) as { default?: unknown };
    } catch (err) {
      throw new CliError(`Cannot load the extension ${file}: ${(err as Error).message}`);
    }
    const ext = loaded.default as Partial<Extension> | undefined;
    if (!ext || typeof ext.name !== 'string' || typeof ext.register !== 'function') {
      throw new CliError(`The module ${file} must export an extension (an object with a name and a register function) as its default export.`);
    }
    out.push(ext as Extension);
  }
  return out;
}

async function requireUser(s: Services, name: string): Promise<string> {
  const id = cleanAccountName(name);
  if (!(await s.users.get(id))) throw new CliError(`There is no user '${id}'. Run 'swarmcore user list' to see the users.`);
  return id;
}

async function requireRole(s: Services, role: string): Promise<void> {
  if (!(await s.roles.get(role))) throw new CliError(`There is no role '${role}'. Roles: ${[...(await s.roles.all()).keys()].join(', ')}.`);
}

/** Records a command-line administrative action in the audit log. */
function auditCli(s: Services, action: string, target: string | null, detail: AuditEntry['detail'] = {}): Promise<void> {
  return s.audit.record({ userId: null, address: CLI_ADDRESS, action, target, detail: { ...detail, via: 'cli' } });
}

/** Parses --since: an ISO date or date-time; unix seconds. */
function parseSince(text: string): number {
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(ms)) throw new CliError(`--since needs an ISO date such as 2026-11-30 or 2026-11-30T12:00:00Z, not '${text}'.`);
  return Math.floor(ms / 1000);
}

function checkPassword(pw: string): void {
  if (pw.length < 8 || pw.length > 500) throw new CliError('A password must be 8 to 500 characters long.');
}

export function buildCli(): Command {
  const program = new Command('swarmcore').description('A SwarmUI-compatible account and session server.').version(VERSION);
  const storeOptions = (cmd: Command): Command =>
    cmd
      .option('--data-dir <dir>', 'data directory (default ./data, or SWARMCORE_DATA_DIR)')
      .option('--database-url <url>', 'PostgreSQL URL (or SWARMCORE_DATABASE_URL)')
      .option('--extension <module>', 'load an extension: a module whose default export is an Extension (repeatable)', collect, []);

  storeOptions(program.command('serve').description('run the server'))
    .option('--host <host>', 'address to listen on (default 127.0.0.1, or SWARMCORE_HOST)')
    .option('--port <port>', 'port to listen on (default 7801, or SWARMCORE_PORT)')
    .option('--set <Section.Key=value>', 'override a server setting for this run (repeatable)', collect, [])
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action(async (o: StoreOptions & { host?: string; port?: string; set: string[]; logLevel: string }) => {
      const databaseUrl = databaseUrlOf(o);
      const dataDir = dataDirOf(o);
      checkDataDir(dataDir);
      const portText = o.port ?? process.env.SWARMCORE_PORT;
      const port = portText === undefined ? undefined : /^\s*\d+\s*$/.test(portText) ? Number(portText) : NaN;
      if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
        throw new CliError(`${o.port !== undefined ? '--port' : 'SWARMCORE_PORT'} must be a number from 0 to 65535, not '${portText}'.`);
      }
      const log = makeLogger(o.logLevel);
      limitHeapGrowth();
      const host = o.host ?? process.env.SWARMCORE_HOST;
      const extensions = await loadExtensions(o.extension ?? []);
      const server = await startServer({ dataDir, ...(databaseUrl ? { databaseUrl } : {}), settings: parseSets(o.set), extensions, logger: log, ...(host ? { host } : {}), ...(port !== undefined ? { port } : {}) });
      const accounts = server.core.settings.bool('UserAuthorization.AuthorizationRequired') ? 'accounts required' : 'accounts off (everyone is the local owner)';
      const where = server.core.store.engine === 'sqlite' ? dataDir : server.core.store.location;
      log.info({ url: server.url, data: where, version: VERSION }, `swarmcore ${VERSION} listening on ${server.url} (${accounts}; data in ${where})`);
      if (!process.stdout.isTTY) console.error(`swarmcore listening on ${server.url}`);
      // A graceful stop (README.md#health-and-metrics): not ready, no new connections, requests under way finish
      // within Network.ShutdownGraceSeconds, then exit 0. A second signal meanwhile ends the process at once.
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) {
          log.warn(`${signal} received while stopping: exiting now`);
          process.exit(1);
        }
        stopping = true;
        log.debug(`${signal} received, stopping`);
        server.shutdown({ reason: signal }).then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'stopping failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });

  const user = program.command('user').description('manage accounts');
  storeOptions(user.command('add <name>').description('create an account'))
    .requiredOption('--password <password>', 'the password the person will type')
    .option('--role <role>', 'role of the new account', 'user')
    .action(async (name: string, o: StoreOptions & { password: string; role: string }) => {
      await withCore(o, async (_core, s) => {
        const id = cleanAccountName(name);
        if (id.length < 3 || id.length > 100) throw new CliError('A user name needs 3 to 100 letters, digits or underscores.');
        checkPassword(o.password);
        await requireRole(s, o.role);
        if (!(await s.users.register(id, clientPrehash(id, o.password), [o.role], true))) throw new CliError(`The user '${id}' exists already.`);
        await auditCli(s, 'user.add', id, { role: o.role });
        console.log(`Created user '${id}' with role '${o.role}'.`);
      });
    });
  storeOptions(user.command('list').description('list the accounts')).action(async (o: StoreOptions) => {
    await withCore(o, async (_core, s) => {
      for (const id of await s.users.listIds()) {
        const u = (await s.users.get(id))!;
        console.log(`${id}\troles=${u.roles.join(',')}\tpassword=${u.passwordHash === '' ? 'none' : 'set'}`);
      }
    });
  });
  storeOptions(user.command('delete <name>').description('delete an account and all its data')).action(async (name: string, o: StoreOptions) => {
    await withCore(o, async (_core, s) => {
      const id = await requireUser(s, name);
      // The operator holding the database may delete the last manager (the API may not, docs/COMPATIBILITY.md#d39).
      await s.users.delete(id, false);
      await auditCli(s, 'user.delete', id);
      console.log(`Deleted user '${id}' with its sessions, login tokens, presets and data.`);
    });
  });
  storeOptions(user.command('set-password <name> <password>').description("set an account's password")).action(async (name: string, password: string, o: StoreOptions) => {
    await withCore(o, async (_core, s) => {
      const id = await requireUser(s, name);
      checkPassword(password);
      await s.users.setPassword(id, clientPrehash(id, password));
      await auditCli(s, 'user.set_password', id, { cleared: false });
      console.log(`Password of '${id}' changed.`);
    });
  });
  storeOptions(user.command('set-role <name> <role>').description("set an account's role")).action(async (name: string, role: string, o: StoreOptions) => {
    await withCore(o, async (_core, s) => {
      const id = await requireUser(s, name);
      await requireRole(s, role);
      await s.users.setRoles(id, [role]);
      await auditCli(s, 'user.change_settings', id, { roles: [role] });
      console.log(`Role of '${id}' is now '${role}'.`);
    });
  });

  storeOptions(program.command('docs').description('print the API documentation generated from the route declarations'))
    .addOption(new Option('--format <format>', 'output format').choices(['markdown', 'openapi']).default('markdown'))
    .action(async (o: StoreOptions & { format: string }) => {
      await withCore(o, async (core) => {
        const routes = core.routes.all();
        // The OpenAPI text is the one GET /openapi.json serves.
        process.stdout.write(o.format === 'openapi' ? openApiText(core) : `${renderMarkdown(routes, core.services.permissions)}\n`);
      });
    });

  const settings = program.command('settings').description('read and change server settings');
  storeOptions(settings.command('get [key]').description('print one setting, or all of them')).action(async (key: string | undefined, o: StoreOptions) => {
    await withCore(o, async (core) => {
      const show = (k: string): string => {
        const def = core.settings.find(k)!;
        const v = core.settings.get(def.key);
        return def.secret && v !== '' ? '(secret)' : Array.isArray(v) ? v.join(',') : String(v);
      };
      if (key !== undefined) {
        if (!core.settings.find(key)) throw new UnknownSettingError(key);
        console.log(show(key));
        return;
      }
      for (const def of core.settings.all()) console.log(`${def.key} = ${show(def.key)}`);
    });
  });
  storeOptions(settings.command('set <key> <value>').description('change a setting (takes effect on running servers)')).action(async (key: string, value: string, o: StoreOptions) => {
    await withCore(o, async (core) => {
      const def = core.settings.find(key);
      if (!def) throw new UnknownSettingError(key);
      const stored = await core.settings.set(def.key, value);
      await auditCli(core.services, 'settings.change', def.key, { settings: { [def.key]: def.secret ? '(secret)' : stored } });
      console.log(`${def.key} = ${Array.isArray(stored) ? stored.join(',') : String(stored)}`);
    });
  });
  storeOptions(program.command('audit').description('print the audit log, newest first: administrative actions and login results'))
    .option('--user <name>', 'only entries by or about this user id')
    .option('--since <iso-date>', 'only entries at or after this date (e.g. 2026-11-30 or 2026-11-30T12:00:00Z)')
    .option('--limit <n>', 'at most this many entries (1 to 1000)', '100')
    .option('--json', 'one JSON object per line', false)
    .action(async (o: StoreOptions & { user?: string; since?: string; limit: string; json: boolean }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError(`--limit must be a whole number from 1 to 1000, not '${o.limit}'.`);
      const since = o.since === undefined ? undefined : parseSince(o.since);
      await withCore(o, async (_core, s) => {
        const entries = await s.audit.list({ ...(o.user !== undefined ? { userId: o.user } : {}), ...(since !== undefined ? { since } : {}), limit });
        for (const e of entries) {
          const out = { seq: e.seq, time: new Date(e.at * 1000).toISOString(), user_id: e.userId, attempted_name: e.attemptedName, address: e.address, action: e.action, target: e.target, detail: e.detail };
          if (o.json) console.log(JSON.stringify(out));
          else console.log([out.time, e.action, `by=${e.userId ?? (e.attemptedName !== null ? `(${JSON.stringify(e.attemptedName)})` : '-')}`, `from=${e.address}`, `target=${e.target ?? '-'}`, JSON.stringify(e.detail)].join('\t'));
        }
      });
    });
  const db = program.command('db').description('back up the database, or copy it to another store');
  db.command('backup <file>')
    .description("write a consistent copy of a SQLite data dir's database while servers run (PostgreSQL: use pg_dump)")
    .option('--data-dir <dir>', 'data directory (default ./data, or SWARMCORE_DATA_DIR)')
    .option('--database-url <url>', 'PostgreSQL URL (or SWARMCORE_DATABASE_URL): only to be told the pg_dump command')
    .option('--force', 'replace FILE if it exists', false)
    .action(async (file: string, o: StoreOptions & { force: boolean }) => {
      const url = databaseUrlOf(o);
      if (url) {
        const shown = redactUrl(url);
        throw new CliError(
          `db backup copies a SQLite data dir; ${shown} is PostgreSQL: back it up with pg_dump --format=custom --file=${shellQuote(file)} ${shellQuote(shown)} (restore into an empty database with pg_restore --no-owner --dbname=URL ${shellQuote(file)}).`,
        );
      }
      const dataDir = dataDirOf(o);
      const r = await backupSqlite(dataDir, file, { force: o.force });
      console.log(`Backed up ${r.source} to ${r.file} (schema version ${r.schemaVersion}, owner-only): ${describeCounts(r.counts)}.`);
      const key = secretBoxFromEnv() ? `the value of ${SECRET_KEY_ENV}` : path.join(dataDir, SECRET_KEY_FILE);
      console.error(`Keep ${key} too, as privately as the backup and apart from it: the API keys in the backup are sealed with it and cannot be read without it.`);
    });
  db.command('copy')
    .description('copy every account, role, token, preset, setting, API key and datum from one store to another (SQLite data dir or PostgreSQL URL)')
    .requiredOption('--from <dir|url>', 'the source: a data dir or a postgres:// URL')
    .requiredOption('--to <dir|url>', 'the target: a data dir or a postgres:// URL')
    .option('--force', 'replace whatever the target holds', false)
    .option('--from-secret-key-file <file>', `the source's secret key (default ${SECRET_KEY_ENV}, else <dir>/${SECRET_KEY_FILE})`)
    .option('--to-secret-key-file <file>', `the target's secret key (default ${SECRET_KEY_ENV}, else <dir>/${SECRET_KEY_FILE}, made when missing)`)
    .option('--data-dir <dir>', `where ${SECRET_KEY_FILE} is for a PostgreSQL end, as for serve (default ./data, or SWARMCORE_DATA_DIR)`)
    .action(async (o: StoreOptions & { from: string; to: string; force: boolean; fromSecretKeyFile?: string; toSecretKeyFile?: string }) => {
      const from = copySpecOf(o.from);
      const to = copySpecOf(o.to);
      if ((from.url ?? from.dir) === (to.url ?? to.dir)) throw new CliError('--from and --to are the same store.');
      if (from.dir && !existsSync(path.join(from.dir, SQLITE_FILE_NAME))) throw new CliError(`There is no swarmcore database in ${from.dir} (no ${SQLITE_FILE_NAME}).`);
      const fromKey = copyKeyOf(from, o.fromSecretKeyFile, 'from', o);
      const source = await openCopyEnd(from, fromKey.box, o);
      try {
        // Only once the source opened with its key: a refused copy leaves no new target (or key) behind.
        const toKey = copyKeyOf(to, o.toSecretKeyFile, 'to', o);
        const target = await openCopyEnd(to, toKey.box, o);
        try {
          const end = (spec: CopySpec, store: Store, box: SecretBox): CopyEnd => ({ db: connectionOf(store), box, label: spec.label });
          const r = await copyDatabase(end(from, source, fromKey.box), end(to, target, toKey.box), { force: o.force });
          console.log(`Copied ${from.label} to ${to.label} (row counts checked on both ends): ${describeCounts(r.counts)}.`);
          console.log(`API keys: ${r.resealed} sealed again with the target's key (${toKey.where}); start the target's servers with that key.`);
        } finally {
          await target.close();
        }
      } finally {
        await source.close();
      }
    });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildCli();
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const e = err as Error & { code?: string; exitCode?: number };
    if (e.code?.startsWith('commander.')) process.exit(e.exitCode ?? 1);
    // One line for a person; the stack only for an unexpected error and only when asked for.
    console.error(`swarmcore: ${String(e.message).split('\n')[0]}`);
    const expected = e instanceof CliError || e instanceof LastManagerError || e instanceof ListenError || e instanceof UnknownSettingError || e instanceof SettingValueError || e instanceof BackupRefusedError || e instanceof CopyRefusedError;
    if (!expected && /--log-level[= ](debug|trace)/.test(argv.join(' '))) console.error(e.stack);
    process.exit(1);
  }
}

await main(process.argv);
