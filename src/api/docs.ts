// API documentation produced from the route declarations themselves, so it cannot drift from the code:
// Markdown in the shape of SwarmUI's API docs, and an OpenAPI 3.1 description for tools and typed clients.
import type { PermissionRegistry } from '../accounts/permissions.js';
import { ERROR_IDS, type ErrorId } from './errors.js';
import { PARAM_TYPE_NAMES, type Field, type Fields, type ParamDef, type ScalarParamType } from './params.js';
import type { RouteDef } from './route.js';

function defaultText(def: ParamDef): string {
  if (def.type === 'body') return '(any number)';
  if (!('default' in def)) return '(REQUIRED)';
  const d = def.default;
  if (d === null || d === undefined) return '(null)';
  if (typeof d === 'boolean') return d ? 'True' : 'False';
  return Array.isArray(d) ? d.join(', ') : String(d);
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const JSON_TYPE_NAMES: Record<ScalarParamType | 'any', string> = {
  string: 'string',
  int: 'integer',
  long: 'integer',
  float: 'number',
  double: 'number',
  bool: 'boolean',
  'string[]': 'array of string',
  any: 'any JSON value',
};

/** A field's type in words, as the output tables show it. */
function fieldType(f: Field): string {
  const base =
    f.type === 'array'
      ? `array of ${fieldType(f.items)}`
      : f.type === 'object'
        ? 'object'
        : f.type === 'map'
          ? `object of \`${f.key}\` to ${fieldType(f.values)}`
          : f.type === 'union'
            ? f.of.map(fieldType).join(' or ')
            : JSON_TYPE_NAMES[f.type];
  return f.nullable ? `${base} or null` : base;
}

function fieldNote(f: Field): string {
  const notes = [f.description];
  if ('values' in f && f.values && f.type !== 'map') notes.push(f.values.length === 1 ? `Always \`${JSON.stringify(f.values[0])}\`.` : `One of ${f.values.map((v) => `\`${JSON.stringify(v)}\``).join(', ')}.`);
  if (f.optional) notes.push('(Not always present.)');
  return notes.join(' ');
}

/** Table rows for fields, nested ones by path (`status.live_gens`, `presets[].title`, `starred_models.<model type>`). */
function fieldRows(fields: Fields, prefix: string): string[] {
  const rows: string[] = [];
  for (const [name, f] of Object.entries(fields)) rows.push(...fieldRow(`${prefix}${name}`, f));
  return rows;
}

function fieldRow(path: string, f: Field): string[] {
  const rows = [`| ${cell(path)} | ${cell(fieldType(f))} | ${cell(fieldNote(f))} |`];
  return [...rows, ...nestedRows(path, f)];
}

function nestedRows(path: string, f: Field): string[] {
  if (f.type === 'object') return fieldRows(f.fields, `${path}.`);
  if (f.type === 'array') return f.items.type === 'object' ? fieldRows(f.items.fields, `${path}[].`) : nestedRows(`${path}[]`, f.items);
  if (f.type === 'map') return f.values.type === 'object' || f.values.type === 'map' ? fieldRow(`${path}.\`${f.key}\``, f.values) : [];
  return [];
}

function outputTable(fields: Fields): string[] {
  if (Object.keys(fields).length === 0) return ['An empty object.', ''];
  return ['| Field | Type | Description |', '|---|---|---|', ...fieldRows(fields, ''), ''];
}

/** The Markdown of one route's section, from its `### ` heading to the next. */
function routeSection(r: RouteDef, permissions: PermissionRegistry): string[] {
  const out = [`### ${r.websocket ? 'WebSocket' : 'HTTP'} Route ${r.name}`, '', r.description, ''];
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
    const nested: string[] = [];
    for (const [name, def] of params) {
      // A whole-body parameter is the body's own keys: the table names what they are, not the handler's name.
      const shown = def.type === 'body' ? `\`${def.key}\` (any key)` : name;
      const type = def.type === 'body' ? fieldType(def.values) : PARAM_TYPE_NAMES[def.type];
      out.push(`| ${cell(shown)} | ${cell(type)} | ${cell(def.description)} | ${defaultText(def)} |`);
      if (def.type === 'body') nested.push(...nestedRows(`\`${def.key}\``, def.values));
      // A map parameter's keys are data: one row says what each value is, whatever its type.
      else if ('shape' in def && def.shape) nested.push(...(def.shape.type === 'map' ? fieldRow(`${name}.\`${def.shape.key}\``, def.shape.values) : nestedRows(name, def.shape)));
    }
    out.push('');
    if (nested.length > 0) out.push('Inside the parameters:', '', '| Field | Type | Description |', '|---|---|---|', ...nested, '');
  }
  if (Array.isArray(r.output)) {
    const alternatives = r.output as readonly Fields[];
    out.push(r.websocket ? 'Messages, each one of:' : 'Output, one of:', '');
    alternatives.forEach((fields, i) => out.push(...(i > 0 ? ['or', ''] : []), ...outputTable(fields)));
  } else {
    out.push(r.websocket ? 'Last message:' : 'Output:', '', ...outputTable(r.output as Fields));
  }
  if (r.example) out.push('Example:', '', '```js', r.example, '```', '');
  return out;
}

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
    for (const r of sorted) out.push(...routeSection(r, permissions));
  }
  out.push('## Errors', '', '| error_id | HTTP status | meaning |', '|---|---|---|');
  for (const [id, def] of Object.entries(ERROR_IDS)) out.push(`| \`${id}\` | ${def.status} | ${cell(def.meaning)} |`);
  out.push('', 'Routes also answer `{"error": "..."}` with status 200 for a missing or invalid parameter and for their own refusals.', '');
  return out.join('\n');
}

type Schema = Record<string, unknown>;

const SCALAR_SCHEMAS: Record<ScalarParamType | 'any', Schema> = {
  string: { type: 'string' },
  int: { type: 'integer', format: 'int32' },
  long: { type: 'integer', format: 'int64' },
  float: { type: 'number', format: 'float' },
  double: { type: 'number', format: 'double' },
  bool: { type: 'boolean' },
  'string[]': { type: 'array', items: { type: 'string' } },
  any: {},
};

/** The JSON Schema (OpenAPI 3.1 dialect) of a field. */
export function fieldSchema(f: Field): Schema {
  let schema: Schema;
  if (f.type === 'array') schema = { type: 'array', items: fieldSchema(f.items) };
  else if (f.type === 'object') schema = objectSchema(f.fields);
  else if (f.type === 'map') schema = { type: 'object', additionalProperties: fieldSchema(f.values), propertyNames: { description: f.key } };
  else if (f.type === 'union') schema = { anyOf: f.of.map(fieldSchema) };
  else {
    schema = { ...SCALAR_SCHEMAS[f.type] };
    if (f.values) Object.assign(schema, f.values.length === 1 ? { const: f.values[0] } : { enum: [...f.values] });
  }
  schema.description = f.description;
  if (f.nullable) return typeof schema.type === 'string' ? { ...schema, type: [schema.type, 'null'] } : { anyOf: [schema, { type: 'null' }], description: f.description };
  return schema;
}

function objectSchema(fields: Fields): Schema {
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  for (const [name, f] of Object.entries(fields)) {
    properties[name] = fieldSchema(f);
    if (!f.optional) required.push(name);
  }
  return { type: 'object', properties, ...(required.length ? { required } : {}) };
}

/** The request body's schema: every declared parameter, with `session_id` for session routes. */
function requestSchema(r: RouteDef): Schema {
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  if (!r.sessionless) properties.session_id = { type: 'string', description: 'The session from GetNewSession (or send the X-Session-ID header).' };
  let rest: Schema | false = false;
  for (const [name, def] of Object.entries(r.params)) {
    if (def.type === 'body') {
      rest = { ...fieldSchema(def.values), description: `${def.key}: ${def.description}` };
      continue;
    }
    const shape = def.type === 'object' || def.type === 'any' ? def.shape : undefined;
    const base = shape ? fieldSchema(shape) : def.type === 'object' ? { type: 'object' } : SCALAR_SCHEMAS[def.type];
    properties[name] = { ...base, description: def.description, ...('default' in def ? { default: def.default } : {}) };
    if (!('default' in def)) required.push(name);
  }
  return { type: 'object', properties, ...(required.length ? { required } : {}), additionalProperties: rest };
}

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

/** The component name of the hard errors answered with one HTTP status, e.g. `HardError400`. */
const hardErrorName = (status: number): string => `HardError${status}`;

function responseSchema(r: RouteDef): Schema {
  const alternatives = Array.isArray(r.output) ? (r.output as readonly Fields[]) : [r.output as Fields];
  return { oneOf: [...alternatives.map(objectSchema), ref('SoftError')] };
}

/**
 * The hard errors (`{error_id, error?}`), one schema per HTTP status the envelope answers them with; ids the
 * registry answers with status 200 are a route's own answers and appear in its output instead.
 */
function errorSchemas(): Record<string, Schema> {
  const byStatus = new Map<number, string[]>();
  for (const [id, def] of Object.entries(ERROR_IDS)) if (def.status !== 200) byStatus.set(def.status, [...(byStatus.get(def.status) ?? []), id]);
  const schemas: Record<string, Schema> = {};
  for (const [status, ids] of [...byStatus].sort(([a], [b]) => a - b)) {
    schemas[hardErrorName(status)] = {
      type: 'object',
      description: `An error the server answers with HTTP status ${status}.`,
      properties: {
        error_id: { type: 'string', enum: ids, description: ids.map((id) => `\`${id}\`: ${ERROR_IDS[id as ErrorId].meaning}`).join(' ') },
        error: { type: 'string', description: 'The reason in words (absent for some ids).' },
      },
      required: ['error_id'],
      additionalProperties: false,
    };
  }
  return schemas;
}

/** The statuses a route's call can end with besides 200, each with its hard-error component. */
function errorResponses(r: RouteDef): Record<string, unknown> {
  const statuses = [400, ...(r.sessionless ? [] : [401]), ...(r.websocket ? [403] : []), 503];
  const out: Record<string, unknown> = {};
  for (const status of statuses) out[String(status)] = { $ref: `#/components/responses/${hardErrorName(status)}` };
  return out;
}

/** The shared error responses, one per status, each naming its error ids. */
function errorResponseComponents(schemas: Record<string, Schema>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(schemas)) {
    const ids = ((schemas[name]!.properties as Record<string, Schema>).error_id!.enum as string[]).map((id) => `\`${id}\``).join(', ');
    out[name] = { description: `Refused by the server: ${ids}.`, content: { 'application/json': { schema: ref(name) } } };
  }
  return out;
}

/**
 * An OpenAPI 3.1 document: one POST operation per route; WebSocket routes are marked `x-websocket`. Served at
 * `GET /openapi.json` and printed by `swarmcore docs --format openapi`, identically.
 */
export function renderOpenApi(routes: readonly RouteDef[], version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const r of [...routes].sort((a, b) => a.name.localeCompare(b.name))) {
    paths[`/API/${r.name}`] = {
      post: {
        operationId: r.name,
        tags: [r.group],
        summary: r.description,
        ...(r.nonFinal ? { 'x-non-final': true } : {}),
        ...(r.websocket ? { 'x-websocket': true } : {}),
        'x-permission': r.permission,
        'x-user-update': r.userUpdate,
        requestBody: { required: true, content: { 'application/json': { schema: requestSchema(r) } } },
        responses: {
          '200': {
            description: r.websocket ? 'Each message the socket sends, the last one included; or `{"error": ...}` for a refused call.' : 'The route output, or `{"error": ...}` for a refused call.',
            content: { 'application/json': { schema: responseSchema(r) } },
          },
          ...errorResponses(r),
        },
      },
    };
  }
  const hardErrors = errorSchemas();
  return {
    openapi: '3.1.0',
    info: { title: 'swarmcore API', version },
    paths,
    components: {
      schemas: {
        SoftError: {
          type: 'object',
          description: 'A refused call answered with HTTP status 200: a missing or invalid parameter, or the route\'s own check.',
          properties: { error: { type: 'string', description: 'Why the route refused the call.' } },
          required: ['error'],
          additionalProperties: false,
        },
        ...hardErrors,
      },
      responses: errorResponseComponents(hardErrors),
    },
  };
}
