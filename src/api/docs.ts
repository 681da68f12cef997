// API documentation produced from the route declarations themselves, so it cannot drift from the code:
// Markdown in the shape of SwarmUI's API docs, and an OpenAPI 3.1 description for tools and typed clients.
import type { PermissionRegistry } from '../accounts/permissions.js';
import { ERROR_IDS } from './errors.js';
import { PARAM_TYPE_NAMES, type ParamDef, type ParamType } from './params.js';
import type { RouteDef } from './route.js';

function defaultText(def: ParamDef): string {
  if (def.type === 'object' || !('default' in def)) return '(REQUIRED)';
  const d = def.default;
  if (d === null || d === undefined) return '(null)';
  if (typeof d === 'boolean') return d ? 'True' : 'False';
  return Array.isArray(d) ? d.join(', ') : String(d);
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Markdown API docs, one section per route group, routes alphabetically. */
export function renderMarkdown(routes: readonly RouteDef[], permissions: PermissionRegistry): string {
  const groups = new Map<string, RouteDef[]>();
  for (const r of routes) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
  const out: string[] = ['# swarmcore API', '', 'Every route is `POST /API/<Route>` with a JSON object body (WebSocket routes: open `/API/<Route>` and send the object as the first message). Every route but the sessionless ones needs `session_id` (or the `X-Session-ID` header).', ''];
  for (const [group, list] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = [...list].sort((a, b) => a.name.localeCompare(b.name));
    out.push(`## ${group}`, '');
    for (const r of sorted) out.push(`- ${r.websocket ? 'WebSocket' : 'HTTP'} Route [${r.name}](#${r.name.toLowerCase()})`);
    out.push('');
    for (const r of sorted) {
      out.push(`### ${r.websocket ? 'WebSocket' : 'HTTP'} Route ${r.name}`, '', r.description, '');
      if (r.nonFinal) out.push('> This route is non-final: it may still change.', '');
      if (r.permission) {
        const p = permissions.get(r.permission);
        out.push(`Permission: \`${r.permission}\`${p ? ` - ${p.name} in group ${p.group.name}` : ''}`, '');
      } else {
        out.push('Permission: none (no session needed)', '');
      }
      const params = Object.entries(r.params);
      if (params.length === 0) out.push('Parameters: none.', '');
      else {
        out.push('| Name | Type | Description | Default |', '|---|---|---|---|');
        for (const [name, def] of params) out.push(`| ${name} | ${PARAM_TYPE_NAMES[def.type]} | ${cell(def.description)} | ${defaultText(def)} |`);
        out.push('');
      }
      if (r.output) out.push('Output:', '', '```js', r.output, '```', '');
    }
  }
  out.push('## Errors', '', '| error_id | HTTP status | meaning |', '|---|---|---|');
  for (const [id, def] of Object.entries(ERROR_IDS)) out.push(`| \`${id}\` | ${def.status} | ${cell(def.meaning)} |`);
  out.push('', 'Routes also answer `{"error": "..."}` with status 200 for a missing or invalid parameter and for their own refusals.', '');
  return out.join('\n');
}

const SCHEMAS: Record<ParamType, Record<string, unknown>> = {
  string: { type: 'string' },
  int: { type: 'integer', format: 'int32' },
  long: { type: 'integer', format: 'int64' },
  float: { type: 'number', format: 'float' },
  double: { type: 'number', format: 'double' },
  bool: { type: 'boolean' },
  'string[]': { type: 'array', items: { type: 'string' } },
  object: { type: 'object', additionalProperties: true },
};

/** An OpenAPI 3.1 document: one POST operation per route; WebSocket routes are marked `x-websocket`. */
export function renderOpenApi(routes: readonly RouteDef[], version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const r of [...routes].sort((a, b) => a.name.localeCompare(b.name))) {
    const properties: Record<string, unknown> = {};
    const required: string[] = [];
    if (!r.sessionless) {
      properties.session_id = { type: 'string', description: 'The session from GetNewSession (or send the X-Session-ID header).' };
    }
    let openBody = false;
    for (const [name, def] of Object.entries(r.params)) {
      if (def.type === 'object') {
        openBody = true; // the route reads keys of the whole body itself
        continue;
      }
      properties[name] = { ...SCHEMAS[def.type], description: def.description, ...('default' in def ? { default: def.default } : {}) };
      if (!('default' in def)) required.push(name);
    }
    paths[`/API/${r.name}`] = {
      post: {
        operationId: r.name,
        tags: [r.group],
        summary: r.description,
        ...(r.nonFinal ? { 'x-non-final': true } : {}),
        ...(r.websocket ? { 'x-websocket': true } : {}),
        'x-permission': r.permission,
        'x-user-update': r.userUpdate,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object', properties, ...(required.length ? { required } : {}), additionalProperties: openBody } } },
        },
        responses: {
          '200': { description: 'The route output, or `{"error": ...}` for a refused call.', content: { 'application/json': { schema: { type: 'object' } } } },
          '400': { description: 'Envelope error (`error_id` says which).', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
          '401': { description: 'invalid_session_id', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'swarmcore API', version },
    paths,
    components: {
      schemas: {
        Error: { type: 'object', properties: { error: { type: 'string' }, error_id: { type: 'string', enum: Object.keys(ERROR_IDS) } }, required: ['error_id'] },
      },
    },
  };
}
