// API docs and OpenAPI come from the route declarations, so every route is documented exactly as it runs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Core } from '../src/core.js';
import type { RouteDef } from '../src/api/route.js';
import { runCli } from './helpers/server.js';

async function declaredRoutes(dir: string): Promise<RouteDef[]> {
  const core = await Core.open({ dataDir: dir });
  try {
    return core.routes.all();
  } finally {
    await core.close();
  }
}

/** One route's section of the Markdown: from its heading to the next heading of any route or group. */
function section(markdown: string, r: RouteDef): string {
  const heading = `### ${r.websocket ? 'WebSocket' : 'HTTP'} Route ${r.name}\n`;
  const start = markdown.indexOf(heading);
  assert.notEqual(start, -1, `no section for ${r.name}`);
  const rest = markdown.slice(start + heading.length);
  const end = rest.search(/^##/m);
  return end === -1 ? rest : rest.slice(0, end);
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The Markdown name cell of a parameter: its name, or for a whole-body parameter the keys it stands for. */
function paramCell(name: string, r: RouteDef): string {
  const def = r.params[name]!;
  return def.type === 'body' ? `\`${def.key}\` (any key)` : name;
}

test('the Markdown docs list every route with its permission, its parameters within its own section and its output fields', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-docs-'));
  try {
    const out = await runCli(['docs', '--data-dir', dir]);
    assert.equal(out.code, 0, out.stderr);
    const routes = await declaredRoutes(dir);
    assert.ok(routes.length >= 25);
    for (const r of routes) {
      const text = section(out.stdout, r);
      for (const name of Object.keys(r.params)) assert.match(text, new RegExp(`^\\| ${escape(paramCell(name, r))} \\| `, 'm'), `${r.name}.${name}`);
      if (Object.keys(r.params).length === 0) assert.match(text, /^Parameters: none\.$/m, r.name);
      const alternatives = Array.isArray(r.output) ? r.output : [r.output];
      for (const fields of alternatives) for (const field of Object.keys(fields)) assert.match(text, new RegExp(`^\\| ${escape(field)} \\| `, 'm'), `${r.name} output ${field}`);
    }
    const byName = new Map(routes.map((r) => [r.name, r]));
    const sectionOf = (name: string): string => section(out.stdout, byName.get(name)!);
    assert.ok(sectionOf('RevokeMyAuthToken').includes('| tokenId | String | The token id, as ListMyAuthTokens shows it. | (REQUIRED) |'));
    assert.ok(sectionOf('GetNewSession').includes('| impersonateUser | String | With the manage_users permission: open the session as this user instead. | (null) |'));
    assert.ok(sectionOf('ChangePassword').includes('Permission: `edit_user_settings` - Edit User Settings in group User'));
    assert.ok(out.stdout.includes('| `invalid_session_id` | 401 |'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('body keys a client sends are documented by their own names and no route lists a raw-body field', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-docs-'));
  try {
    const out = await runCli(['docs', '--data-dir', dir]);
    assert.equal(out.code, 0, out.stderr);
    const routes = new Map((await declaredRoutes(dir)).map((r) => [r.name, r]));
    const sectionOf = (name: string): string => section(out.stdout, routes.get(name)!);
    assert.match(sectionOf('AddNewPreset'), /^\| param_map \| JObject \| .+ \| \(REQUIRED\) \|$/m);
    assert.match(sectionOf('ChangeUserSettings'), /^\| settings \| JObject \| .+ \| \(REQUIRED\) \|$/m);
    assert.match(sectionOf('SetParamEdits'), /^\| edits \| JObject \| .+ \| \(REQUIRED\) \|$/m);
    assert.match(sectionOf('ExportUserPresets'), /^\| titles \| JToken \| .+ \| \(null\) \|$/m);
    assert.match(sectionOf('SetStarredModels'), /^\| `<model type>` \(any key\) \| array of string \| .+ \| \(any number\) \|$/m);
    assert.match(sectionOf('SetPresetLinks'), /^\| `<model type>` \(any key\) \| object of `<model name>` to array of string \| .+ \|$/m);
    assert.doesNotMatch(out.stdout, /^\| (raw|rawData|input) \|/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface Operation {
  'x-permission': string | null;
  'x-websocket'?: boolean;
  requestBody: { content: { 'application/json': { schema: { required?: string[]; properties: Record<string, { type?: string | string[] }>; additionalProperties: unknown } } } };
  responses: Record<string, { content: { 'application/json': { schema: { oneOf?: { properties?: Record<string, unknown>; $ref?: string }[] } } } }>;
}

test('every OpenAPI operation lists every declared request field and has a response schema with its output fields', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-openapi-'));
  try {
    const out = await runCli(['docs', '--format', 'openapi', '--data-dir', dir]);
    assert.equal(out.code, 0, out.stderr);
    const doc = JSON.parse(out.stdout) as { openapi: string; paths: Record<string, { post: Operation }> };
    assert.equal(doc.openapi, '3.1.0');
    const routes = await declaredRoutes(dir);
    assert.deepEqual(Object.keys(doc.paths).sort(), routes.map((r) => `/API/${r.name}`).sort());
    for (const r of routes) {
      const op = doc.paths[`/API/${r.name}`]!.post;
      const schema = op.requestBody.content['application/json'].schema;
      const declared = Object.entries(r.params);
      const fields = declared.filter(([, d]) => d.type !== 'body').map(([n]) => n);
      assert.deepEqual(Object.keys(schema.properties), [...(r.sessionless ? [] : ['session_id']), ...fields], r.name);
      assert.deepEqual(schema.required ?? [], fields.filter((n) => !('default' in r.params[n]!)), r.name);
      // Only a route that takes the body's own keys (a whole-body parameter) accepts keys it does not list.
      assert.equal(typeof schema.additionalProperties === 'object', declared.some(([, d]) => d.type === 'body'), r.name);
      const alternatives = op.responses['200']!.content['application/json'].schema.oneOf!;
      const outputs = Array.isArray(r.output) ? r.output : [r.output];
      assert.equal(alternatives.length, outputs.length + 1, r.name);
      outputs.forEach((o, i) => assert.deepEqual(Object.keys(alternatives[i]!.properties!), Object.keys(o), r.name));
      assert.equal(alternatives.at(-1)!.$ref, '#/components/schemas/SoftError');
    }
    const login = doc.paths['/API/Login']!.post;
    assert.equal(login['x-permission'], null);
    assert.deepEqual(login.requestBody.content['application/json'].schema.required, ['username', 'password']);
    const addPreset = doc.paths['/API/AddNewPreset']!.post.requestBody.content['application/json'].schema;
    assert.deepEqual(addPreset.required, ['title', 'description', 'param_map']);
    assert.equal(addPreset.properties.param_map!.type, 'object');
    assert.equal(doc.paths['/API/InstallConfirmWS']!.post['x-websocket'], true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('object parameters are typed down to their values: a ChangeUserSettings value is text, a number, a boolean or a list, never an object', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-docs-'));
  try {
    const md = await runCli(['docs', '--data-dir', dir]);
    assert.equal(md.code, 0, md.stderr);
    const routes = new Map((await declaredRoutes(dir)).map((r) => [r.name, r]));
    assert.match(section(md.stdout, routes.get('ChangeUserSettings')!), /^\| settings\.`<setting id>` \| string or number or boolean or array of any JSON value \| .+ \|$/m);
    const out = await runCli(['docs', '--format', 'openapi', '--data-dir', dir]);
    const doc = JSON.parse(out.stdout) as { paths: Record<string, { post: Operation }> };
    const settings = doc.paths['/API/ChangeUserSettings']!.post.requestBody.content['application/json'].schema.properties.settings as { type: string; additionalProperties: { anyOf: { type: string }[] } };
    assert.equal(settings.type, 'object');
    assert.deepEqual(settings.additionalProperties.anyOf.map((s) => s.type), ['string', 'number', 'boolean', 'array']);
    const paramMap = doc.paths['/API/AddNewPreset']!.post.requestBody.content['application/json'].schema.properties.param_map as { type: string; additionalProperties: Record<string, unknown> };
    assert.equal(paramMap.type, 'object');
    assert.deepEqual(Object.keys(paramMap.additionalProperties), ['description']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
