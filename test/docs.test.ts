// API docs and OpenAPI come from the route declarations, so every route is documented exactly as it runs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Core } from '../src/core.js';
import { runCli } from './helpers/server.js';

test('the Markdown docs list every route with its permission, parameters and defaults', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-docs-'));
  try {
    const out = await runCli(['docs', '--data-dir', dir]);
    assert.equal(out.code, 0, out.stderr);
    const core = await Core.open({ dataDir: dir });
    const routes = core.routes.all();
    await core.close();
    assert.ok(routes.length >= 25);
    for (const r of routes) {
      assert.ok(out.stdout.includes(`### ${r.websocket ? 'WebSocket' : 'HTTP'} Route ${r.name}\n`), r.name);
      for (const name of Object.keys(r.params)) assert.match(out.stdout, new RegExp(`^\\| ${name} \\| `, 'm'), `${r.name}.${name}`);
    }
    assert.ok(out.stdout.includes('| impersonateUser | String | With the manage_users permission: open the session as this user instead. | (null) |'));
    assert.ok(out.stdout.includes('| tokenId | String | The token id, as ListMyAuthTokens shows it. | (REQUIRED) |'));
    assert.ok(out.stdout.includes('Permission: `edit_user_settings` - Edit User Settings in group User'));
    assert.ok(out.stdout.includes('| `invalid_session_id` | 401 |'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the OpenAPI document has one POST operation per route with its required parameters', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-openapi-'));
  try {
    const out = await runCli(['docs', '--format', 'openapi', '--data-dir', dir]);
    assert.equal(out.code, 0, out.stderr);
    const doc = JSON.parse(out.stdout) as { openapi: string; paths: Record<string, { post: Record<string, unknown> }> };
    assert.equal(doc.openapi, '3.1.0');
    const login = doc.paths['/API/Login']!.post;
    assert.equal(login['x-permission'], null);
    const schema = (login.requestBody as { content: { 'application/json': { schema: { required: string[]; properties: Record<string, unknown> } } } }).content['application/json'].schema;
    assert.deepEqual(schema.required, ['username', 'password']);
    assert.equal('session_id' in schema.properties, false);
    const revoke = doc.paths['/API/RevokeMyAuthToken']!.post;
    const revokeSchema = (revoke.requestBody as { content: { 'application/json': { schema: { required: string[]; properties: Record<string, unknown> } } } }).content['application/json'].schema;
    assert.deepEqual(revokeSchema.required, ['tokenId']);
    assert.ok('session_id' in revokeSchema.properties);
    assert.equal(doc.paths['/API/InstallConfirmWS']!.post['x-websocket'], true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
