// The generated API docs agree with the reference's own documentation of BasicAPIFeatures (the seed file next to
// the repository): for each of its routes the same kind (HTTP or WebSocket), permission, and parameter names,
// types and defaults. Each place swarmcore differs on purpose is written out below with the docs/COMPATIBILITY.md
// entry that explains it, so any other difference fails.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Core } from '../src/core.js';
import type { RouteDef } from '../src/api/route.js';
import { ROOT, needsService, runCli } from './helpers/server.js';

const SEED = path.join(ROOT, '..', 'shared', 'seed', 'BasicAPIFeatures.txt');

interface Param {
  name: string;
  type: string;
  default: string;
}

interface SeedRoute {
  name: string;
  kind: 'HTTP' | 'WebSocket';
  /** `id - Name in group Group`, or null where the seed says `(MISSING)` (no permission). */
  permission: { id: string; name: string; group: string } | null;
  nonFinal: boolean;
  /** Null where the seed says `None.`. */
  params: Param[] | null;
}

/** The cells of a Markdown table row; `\|` inside a cell is text. */
function cells(row: string): string[] {
  return row
    .replace(/^\|\s?/, '')
    .replace(/\s?\|$/, '')
    .split(/(?<!\\) \| /)
    .map((c) => c.replace(/\\\|/g, '|').trim());
}

/** Name, type and default of each row of a `| Name | Type | Description | Default |` table starting at `lines[at]`. */
function paramTable(lines: string[], at: number): Param[] {
  assert.equal(lines[at], '| Name | Type | Description | Default |');
  assert.equal(lines[at + 1], '|---|---|---|---|');
  const params: Param[] = [];
  for (let i = at + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    const c = cells(lines[i]!);
    params.push({ name: c[0]!, type: c[1]!, default: c.at(-1)! });
  }
  return params;
}

/**
 * The seed is the reference's docs page as text: a list of `- <kind> Route <name>` lines, then one section per
 * route in that order, each with an optional non-final warning, its description, a permission line
 * (`<id> - <name> in group <group>` or `(MISSING)`), then `None.` or the parameter table, then its example output.
 */
function parseSeed(text: string): SeedRoute[] {
  const lines = text.split(/\r?\n/);
  const listed = lines.flatMap((l) => {
    const m = /^- (HTTP|WebSocket) Route (\w+)$/.exec(l);
    return m ? [{ kind: m[1] as 'HTTP' | 'WebSocket', name: m[2]! }] : [];
  });
  const routes: SeedRoute[] = [];
  let warned = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('This API is marked non-final.')) warned = true;
    const perm = /^([a-z_]+) - (.+) in group (\w+)$/.exec(line);
    if (!perm && line !== '(MISSING)') continue;
    const next = lines[i + 1];
    const route = listed[routes.length];
    assert.ok(route, `more permission lines than listed routes (line ${i + 1})`);
    routes.push({
      ...route,
      permission: perm ? { id: perm[1]!, name: perm[2]!, group: perm[3]! } : null,
      nonFinal: warned,
      params: next === 'None.' ? null : paramTable(lines, i + 1),
    });
    warned = false;
  }
  assert.equal(routes.length, listed.length, 'one section per listed route');
  return routes;
}

/** One route's section of our Markdown, from its heading to the next heading. */
function ourSection(markdown: string, kind: string, name: string): string[] | null {
  const heading = `### ${kind} Route ${name}\n`;
  const start = markdown.indexOf(heading);
  if (start === -1) return null;
  const rest = markdown.slice(start + heading.length);
  const end = rest.search(/^##/m);
  return (end === -1 ? rest : rest.slice(0, end)).split('\n');
}

/**
 * Where our docs differ from the seed on purpose ([D36](docs/COMPATIBILITY.md#d36)): the reference declares a
 * whole-body `JObject` parameter (named `raw` or `rawData`, a key no client sends) and reads the real keys inside
 * the handler, and some keys a route reads appear nowhere in its docs. swarmcore documents the keys a client
 * sends, with their types and defaults. `seed` is the seed's row our docs replace (none: rows are only added).
 */
const DOCUMENTED_KEYS: Record<string, { seed?: Param; ours: Param[] }> = {
  AddNewPreset: {
    seed: { name: 'raw', type: 'JObject', default: '(REQUIRED)' },
    ours: [
      { name: 'param_map', type: 'JObject', default: '(REQUIRED)' },
      { name: 'preview_image_metadata', type: 'String', default: '(null)' },
      { name: 'is_starred', type: 'Boolean', default: 'False' },
    ],
  },
  ChangeUserSettings: { seed: { name: 'rawData', type: 'JObject', default: '(REQUIRED)' }, ours: [{ name: 'settings', type: 'JObject', default: '(REQUIRED)' }] },
  SetParamEdits: { seed: { name: 'rawData', type: 'JObject', default: '(REQUIRED)' }, ours: [{ name: 'edits', type: 'JObject', default: '(REQUIRED)' }] },
  SetStarredModels: { seed: { name: 'raw', type: 'JObject', default: '(REQUIRED)' }, ours: [{ name: '`<model type>` (any key)', type: 'array of string', default: '(any number)' }] },
  GetNewSession: { ours: [{ name: 'impersonateUser', type: 'String', default: '(null)' }] },
};

/** The seed's rows with the deliberate differences applied: what our docs must show. */
function expectedParams(route: SeedRoute): Param[] | null {
  const diff = DOCUMENTED_KEYS[route.name];
  if (!diff) return route.params;
  const params = [...(route.params ?? [])];
  if (diff.seed) {
    const at = params.findIndex((p) => p.name === diff.seed!.name);
    assert.deepEqual(params[at], diff.seed, `${route.name}: the seed's whole-body parameter is as the difference says`);
    params.splice(at, 1);
  }
  return [...params, ...diff.ours];
}

const byName = (a: Param, b: Param): number => a.name.localeCompare(b.name);

test('the generated docs give every seed route its kind, permission, and parameter names, types and defaults', async (t) => {
  if (!needsService(t, existsSync(SEED), `the reference's API docs are not at ${SEED}`)) return;
  const seed = parseSeed(readFileSync(SEED, 'utf8'));
  assert.equal(seed.length, 19);
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-seed-docs-'));
  try {
    const out = await runCli(['docs', '--data-dir', dir]);
    assert.equal(out.code, 0, out.stderr);
    const core = await Core.open({ dataDir: dir });
    let routes: Map<string, RouteDef>;
    try {
      routes = new Map(core.routes.all().map((r) => [r.name, r]));
    } finally {
      await core.close();
    }
    for (const s of seed) {
      const r = routes.get(s.name);
      assert.ok(r, `${s.name} is declared`);
      assert.equal(r.websocket, s.kind === 'WebSocket', `${s.name} kind`);
      assert.equal(r.permission, s.permission?.id ?? null, `${s.name} permission`);
      assert.equal(r.nonFinal, s.nonFinal, `${s.name} non-final`);
      const section = ourSection(out.stdout, s.kind, s.name);
      assert.ok(section, `${s.name} has a ${s.kind} section`);
      const permissionLine = s.permission ? `Permission: \`${s.permission.id}\` - ${s.permission.name} in group ${s.permission.group}` : 'Permission: none (no session needed)';
      assert.ok(section.includes(permissionLine), `${s.name}: ${permissionLine}`);
      const header = section.indexOf('| Name | Type | Description | Default |');
      const ours = header === -1 ? null : paramTable(section, header);
      const expected = expectedParams(s);
      if (expected === null) {
        assert.equal(ours, null, `${s.name} has no parameters`);
        assert.ok(section.includes('Parameters: none.'), s.name);
        continue;
      }
      assert.deepEqual([...(ours ?? [])].sort(byName), [...expected].sort(byName), `${s.name} parameters`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
