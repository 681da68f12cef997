// The route list as the server itself describes it (`swarmcore docs --format openapi`), so the fuzzer and the
// durability storm cover every route the build registers, with no hand-written copy to drift.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../test/helpers/server.js';

export type FieldType = 'string' | 'int' | 'number' | 'bool' | 'string[]';

export interface RouteInfo {
  name: string;
  websocket: boolean;
  /** Null for sessionless routes. */
  permission: string | null;
  /** Declared as counting as a use of the session: the routes that act for the user (most of them write). */
  userUpdate: boolean;
  /** Declared parameters (without session_id); `required` when the declaration has no default. */
  fields: Record<string, { type: FieldType; required: boolean }>;
  /** True when the route reads keys of the whole body itself (a JObject parameter). */
  openBody: boolean;
}

interface Schema {
  type?: string;
  format?: string;
  items?: Schema;
}

function fieldType(s: Schema): FieldType {
  if (s.type === 'integer') return 'int';
  if (s.type === 'number') return 'number';
  if (s.type === 'boolean') return 'bool';
  if (s.type === 'array') return 'string[]';
  return 'string';
}

export async function loadRoutes(): Promise<RouteInfo[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-docs-'));
  try {
    const out = await runCli(['docs', '--format', 'openapi', '--data-dir', dir]);
    if (out.code !== 0) throw new Error(`swarmcore docs failed:\n${out.stderr}`);
    const doc = JSON.parse(out.stdout) as { paths: Record<string, { post: Record<string, unknown> }> };
    return Object.values(doc.paths).map(({ post }) => {
      const schema = (post.requestBody as { content: Record<string, { schema: { properties: Record<string, Schema>; required?: string[]; additionalProperties: boolean } }> }).content['application/json']!.schema;
      const fields: RouteInfo['fields'] = {};
      for (const [name, s] of Object.entries(schema.properties)) {
        if (name !== 'session_id') fields[name] = { type: fieldType(s), required: (schema.required ?? []).includes(name) };
      }
      return {
        name: post.operationId as string,
        websocket: post['x-websocket'] === true,
        permission: (post['x-permission'] as string | null) ?? null,
        userUpdate: post['x-user-update'] === true,
        fields,
        openBody: schema.additionalProperties === true,
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
