// `npm test` after typecheck and lint: the whole suite on SQLite, then the route suites again on PostgreSQL
// (one fresh database per test server). Without PostgreSQL the second pass is skipped with a reason, unless
// SWARMCORE_REQUIRE_ALL=1 (CI) makes that a failure. Extra arguments replace the file lists (one pass each).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ADMIN_URL, postgresAvailable } from './helpers/postgres.js';
import { ROOT } from './helpers/server.js';

/**
 * Suites left out of the PostgreSQL pass, with why: they test no route on the store, or test PostgreSQL already.
 */
const SQLITE_PASS_ONLY: Record<string, string> = {
  'postgres.test.ts': 'runs on PostgreSQL already (store contract and several instances)',
  'proxy.test.ts': 'runs two instances on a PostgreSQL database of its own behind nginx already',
  'store.test.ts': 'compares the engines itself',
  'durability.test.ts': 'runs its storm on both engines itself',
  'db-tools.test.ts': 'copies between SQLite and its own PostgreSQL databases itself; db backup is SQLite only',
  'docs.test.ts': 'generates documentation, no store use',
  'seed-docs.test.ts': "compares the generated docs with the reference's, no store use",
  'openapi.test.ts': 'checks the served OpenAPI document, which does not depend on the engine',
  'languages.test.ts': 'translation files only',
  'readme.test.ts': "runs README's SQLite example in-process",
  'client.test.ts': 'the client is engine-neutral; every route it calls runs on PostgreSQL in its own suite',
  'sessions.test.ts': 'in-process session memory, engine-neutral',
  'fuzz.test.ts': 'opens the data dir in-process next to the server',
  'extensions.test.ts': 'embeds the server in-process on SQLite',
  'web-ui.test.ts': 'browser rendering, no store logic',
  'web-layout.test.ts': 'browser rendering, no store logic',
  'web-i18n.test.ts': 'browser rendering, no store logic',
  'web-pages.test.ts': 'browser rendering, no store logic',
  'web-user-page.test.ts': 'browser rendering, no store logic',
  'web-install.test.ts': 'browser rendering of the installer; install.test.ts runs its store work on both engines',
  'web-oidc.test.ts': 'browser flow of OpenID Connect sign-in; its store logic (flows, tracker keys, two instances) runs on PostgreSQL in oidc.test.ts',
  'web-admin.test.ts': 'browser rendering of the Server section; its routes run on PostgreSQL in admin.test.ts',
};

const testDir = path.join(ROOT, 'test');
const all = readdirSync(testDir).filter((f) => f.endsWith('.test.ts')).sort();

function pass(name: string, files: string[], env: NodeJS.ProcessEnv): boolean {
  const started = Date.now();
  console.log(`\n== ${name}: ${files.length} suites`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files.map((f) => path.join('test', f))], { cwd: ROOT, env, stdio: 'inherit' });
  console.log(`== ${name}: ${r.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return r.status === 0;
}

const env = { ...process.env };
delete env.SWARMCORE_TEST_DATABASE_URL;
let ok = pass('SQLite', all, env);

if (await postgresAvailable()) {
  const files = all.filter((f) => !(f in SQLITE_PASS_ONLY));
  console.log(`(left out of the PostgreSQL pass: ${Object.entries(SQLITE_PASS_ONLY).map(([f, why]) => `${f}: ${why}`).join('; ')})`);
  ok = pass('PostgreSQL', files, { ...env, SWARMCORE_TEST_DATABASE_URL: ADMIN_URL }) && ok;
} else if (process.env.SWARMCORE_REQUIRE_ALL === '1') {
  console.error(`PostgreSQL is required for this run but not reachable at ${new URL(ADMIN_URL).host}`);
  ok = false;
} else {
  console.log(`\n== PostgreSQL pass SKIPPED: PostgreSQL is not reachable at ${new URL(ADMIN_URL).host} (set SWARMCORE_TEST_POSTGRES_URL)`);
}
process.exit(ok ? 0 : 1);
