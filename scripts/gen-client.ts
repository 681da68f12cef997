// Renders src/client/routes.generated.ts from the live route declarations (src/routes/, `defineRoute` and
// `defineSocketRoute`): one typed method per built-in route, with parameter and result types taken from the
// declared `params` and `output` shapes. `npm run gen:client` writes the file; test/client.test.ts fails when
// the committed file differs from what this renders, so the client cannot drift from the routes.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Field, Fields, ParamDef, ScalarParamType } from '../src/api/params.js';
import type { RouteDef } from '../src/api/route.js';
import { BUILT_IN_ROUTES } from '../src/routes/index.js';

export const GENERATED_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/client/routes.generated.ts');

/** The client method name of a route: the route name with its first letter lower-cased. */
export function methodName(route: string): string {
  return route.charAt(0).toLowerCase() + route.slice(1);
}

const SCALAR: Record<ScalarParamType | 'any', string> = {
  string: 'string',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bool: 'boolean',
  'string[]': 'string[]',
  any: 'unknown',
};

/** Text safe inside a `/** ... *\/` comment, on one line. */
function docText(text: string): string {
  return text.replace(/\*\//g, '*\\/').replace(/\s*\n\s*/g, ' ');
}

function propertyKey(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

function fieldType(f: Field, indent: string): string {
  let t: string;
  switch (f.type) {
    case 'array': {
      const item = fieldType(f.items, indent);
      t = /^[A-Za-z0-9_[\]<>, ]+$/.test(item) && !item.includes(' | ') ? `${item}[]` : `Array<${item}>`;
      break;
    }
    case 'object':
      t = objectType(f.fields, indent);
      break;
    case 'map':
      t = `Record<string, ${fieldType(f.values, indent)}>`;
      break;
    case 'union':
      t = f.of.map((o) => fieldType(o, indent)).join(' | ');
      break;
    default:
      t = f.values && f.values.length > 0 ? f.values.map((v) => JSON.stringify(v)).join(' | ') : SCALAR[f.type];
  }
  return f.nullable ? `${t} | null` : t;
}

function objectType(fields: Fields, indent: string): string {
  const inner = `${indent}  `;
  const lines = Object.entries(fields).map(([name, f]) => `${inner}/** ${docText(f.description)} */\n${inner}${propertyKey(name)}${f.optional ? '?' : ''}: ${fieldType(f, inner)};`);
  return lines.length === 0 ? 'Record<string, never>' : `{\n${lines.join('\n')}\n${indent}}`;
}

function paramType(d: ParamDef, indent: string): string {
  switch (d.type) {
    case 'object':
      return d.shape ? fieldType(d.shape, indent) : 'Record<string, unknown>';
    case 'any':
      return d.shape ? fieldType(d.shape, indent) : 'unknown';
    case 'body':
      return fieldType(d.values, indent);
    default:
      return SCALAR[d.type];
  }
}

/** A route's parameters as one object type; a whole-body parameter makes the object itself its map. */
function paramsType(route: RouteDef): string {
  const inner = '  ';
  const lines: string[] = [];
  let body: string | null = null;
  for (const [name, d] of Object.entries(route.params)) {
    if (d.type === 'body') {
      body = `Record<string, ${paramType(d, '')}>`;
      continue;
    }
    const optional = 'default' in d;
    const nullable = optional && d.default === null ? ' | null' : '';
    lines.push(`${inner}/** ${docText(d.description)} */\n${inner}${propertyKey(name)}${optional ? '?' : ''}: ${paramType(d, inner)}${nullable};`);
  }
  const named = lines.length > 0 ? `{\n${lines.join('\n')}\n}` : null;
  if (body && named) return `${named} & ${body}`;
  return body ?? named ?? 'Record<string, never>';
}

/** Whether the route can be called without arguments (every parameter has a default, or a body map may be empty). */
function paramsOptional(route: RouteDef): boolean {
  return Object.values(route.params).every((d) => d.type === 'body' || 'default' in d);
}

/** An alternative with `error` or `error_id` is an error answer: the client throws it, so results leave it out. */
const isErrorShape = (fields: Fields): boolean => 'error' in fields || 'error_id' in fields;

function resultType(route: RouteDef): string {
  const alternatives = (Array.isArray(route.output) ? route.output : [route.output]) as readonly Fields[];
  const kept = alternatives.filter((a) => !isErrorShape(a));
  if (kept.length === 0) return 'Record<string, never>';
  return kept.map((a) => objectType(a, '')).join(' | ');
}

function typeName(route: RouteDef, part: 'Params' | 'Result' | 'Message'): string {
  return `${route.name}${part}`;
}

/** Members of SwarmClient (src/client/index.ts) a route method must not replace. */
const CLIENT_MEMBERS = new Set(['constructor', 'baseUrl', 'sessionId', 'token', 'call', 'stream', 'callRoute', 'streamRoute']);

export function renderClientRoutes(routes: readonly RouteDef[] = BUILT_IN_ROUTES): string {
  for (const route of routes) {
    if (CLIENT_MEMBERS.has(methodName(route.name))) throw new Error(`route ${route.name} would replace the client's own member '${methodName(route.name)}'`);
  }
  const out: string[] = [
    '// Generated by `npm run gen:client` (scripts/gen-client.ts) from the route declarations in src/routes/. Do not',
    '// edit: change the declaration and run the generator again (test/client.test.ts fails while this file is stale).',
    '// An answer with `error` or `error_id` is thrown as SwarmApiError, so result types leave those shapes out.',
    '',
  ];
  for (const route of routes) {
    out.push(`/** Parameters of ${route.name}. */`, `export type ${typeName(route, 'Params')} = ${paramsType(route)};`, '');
    const part = route.websocket ? 'Message' : 'Result';
    out.push(`/** ${route.websocket ? 'A message' : 'The answer'} of ${route.name}. */`, `export type ${typeName(route, part)} = ${resultType(route)};`, '');
  }
  out.push('/** Every built-in route: its parameters and its answer (or, for a WebSocket route, its messages). */', 'export interface BuiltInRoutes {');
  for (const route of routes) {
    out.push(`  ${route.name}: { params: ${typeName(route, 'Params')}; result: ${typeName(route, route.websocket ? 'Message' : 'Result')}; websocket: ${route.websocket}; sessionless: ${route.sessionless} };`);
  }
  out.push('}', '');
  out.push('/** The same facts at run time: how each built-in route is called. */', 'export const BUILT_IN_ROUTES: { readonly [N in keyof BuiltInRoutes]: { readonly websocket: BuiltInRoutes[N][\'websocket\']; readonly sessionless: BuiltInRoutes[N][\'sessionless\'] } } = {');
  for (const route of routes) out.push(`  ${route.name}: { websocket: ${route.websocket}, sessionless: ${route.sessionless} },`);
  out.push('};', '');
  out.push(
    '/** What a client must provide for the generated methods: one call over HTTP, one over a WebSocket. */',
    'export abstract class BuiltInRouteMethods {',
    '  /** Calls an HTTP route by name and returns its answer; error answers are thrown. */',
    '  protected abstract callRoute<R>(route: string, params: object, sessionless: boolean): Promise<R>;',
    '  /** Opens a WebSocket route by name and yields its messages; an error message is thrown. */',
    '  protected abstract streamRoute<M>(route: string, params: object): AsyncIterable<M>;',
  );
  for (const route of routes) {
    const params = `params: ${typeName(route, 'Params')}${paramsOptional(route) ? ' = {}' : ''}`;
    out.push('', `  /** ${docText(route.description)}${route.nonFinal ? ' (non-final)' : ''} */`);
    if (route.websocket) {
      out.push(`  ${methodName(route.name)}(${params}): AsyncIterable<${typeName(route, 'Message')}> {`, `    return this.streamRoute<${typeName(route, 'Message')}>('${route.name}', params);`, '  }');
    } else {
      out.push(`  ${methodName(route.name)}(${params}): Promise<${typeName(route, 'Result')}> {`, `    return this.callRoute<${typeName(route, 'Result')}>('${route.name}', params, ${route.sessionless});`, '  }');
    }
  }
  out.push('}', '');
  return out.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(GENERATED_FILE, renderClientRoutes());
  console.log(`wrote ${path.relative(process.cwd(), GENERATED_FILE)} (${BUILT_IN_ROUTES.length} routes)`);
}
