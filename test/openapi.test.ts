// GET /openapi.json serves the OpenAPI document of the routes the server runs (extension routes included), byte
// for byte what `swarmcore docs --format openapi` prints; the document passes a maintained OpenAPI 3.1 validator,
// names every error_id under the status it is answered with, and openapi-typescript turns it into types that
// compile.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { ERROR_IDS } from '../src/api/errors.js';
import { ROOT, TestServer } from './helpers/server.js';

const FIXTURE = path.join(ROOT, 'test/fixtures/test-extension.ts');

interface Schema {
  $ref?: string;
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  additionalProperties?: Schema | boolean;
}
type Content = { content: { 'application/json': { schema: Schema } } };
interface Operation {
  operationId: string;
  'x-permission': string | null;
  'x-websocket'?: boolean;
  requestBody: Content;
  responses: Record<string, Content | { $ref: string }>;
}
interface Document {
  openapi: string;
  paths: Record<string, { post: Operation }>;
  components: { schemas: Record<string, Schema>; responses: Record<string, { description: string } & Content> };
}

let server: TestServer;
let served: { status: number; type: string | null; text: string };
let doc: Document;
before(async () => {
  server = await TestServer.start({ args: ['--extension', FIXTURE] });
  const res = await fetch(`${server.url}/openapi.json`, { headers: { Connection: 'close' } });
  served = { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  doc = JSON.parse(served.text) as Document;
});
after(() => server.close());

test('GET /openapi.json answers exactly what `docs --format openapi` prints for the same routes, extension routes included', async () => {
  assert.equal(served.status, 200);
  assert.equal(served.type, 'application/json; charset=utf-8');
  const printed = await server.cli(['docs', '--format', 'openapi', '--extension', FIXTURE]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(served.text, printed.stdout);
  for (const name of ['FixtureEcho', 'FixtureEveryday', 'FixtureSetBackends', 'GetNewSession', 'InstallConfirmWS']) assert.ok(doc.paths[`/API/${name}`], name);
  assert.equal(doc.paths['/API/FixtureEcho']!.post['x-permission'], 'fixture_secret');
  // The CLI without the extension documents no extension route: the document follows what is registered.
  const plain = await server.cli(['docs', '--format', 'openapi']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.deepEqual(
    Object.keys((JSON.parse(plain.stdout) as Document).paths).filter((p) => p.startsWith('/API/Fixture')),
    [],
  );
  // HEAD has the headers only; API paths still refuse GET with the reference's redirect.
  const head = await fetch(`${server.url}/openapi.json`, { method: 'HEAD', headers: { Connection: 'close' } });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(served.text)));
  assert.equal(await head.text(), '');
  const get = await fetch(`${server.url}/API/GetNewSession`, { redirect: 'manual', headers: { Connection: 'close' } });
  assert.equal(get.status, 302);
  assert.equal(get.headers.get('location'), '/Error/NoGetAPI');
});

test('the served document is valid OpenAPI 3.1 by @seriousme/openapi-schema-validator', async () => {
  const validator = new Validator();
  const result = await validator.validate(JSON.parse(served.text) as Record<string, unknown>);
  assert.deepEqual(result.errors, undefined);
  assert.equal(result.valid, true);
  assert.equal(validator.version, '3.1');
});

/** Every value a schema pins (`const` or `enum`), through nested alternatives. */
function pinnedValues(s: Schema): unknown[] {
  return [...(s.const !== undefined ? [s.const] : []), ...(s.enum ?? []), ...[...(s.oneOf ?? []), ...(s.anyOf ?? [])].flatMap(pinnedValues), ...Object.values(s.properties ?? {}).flatMap(pinnedValues)];
}

test('every error_id is documented: hard errors in a component per HTTP status, soft ones in the outputs of the routes that answer them', () => {
  const { schemas, responses } = doc.components;
  for (const [id, def] of Object.entries(ERROR_IDS)) {
    if (def.status === 200) {
      const answering = Object.values(doc.paths).filter(({ post }) => pinnedValues((post.responses['200'] as Content).content['application/json'].schema).includes(id));
      assert.ok(answering.length > 0, `no route documents ${id}`);
      continue;
    }
    const name = `HardError${def.status}`;
    assert.ok(schemas[name]!.properties!.error_id!.enum!.includes(id), `${id} under ${name}`);
    assert.deepEqual(responses[name]!.content['application/json'].schema, { $ref: `#/components/schemas/${name}` });
  }
  assert.deepEqual(Object.keys(schemas).filter((n) => n.startsWith('HardError')).sort(), ['HardError400', 'HardError401', 'HardError403', 'HardError404', 'HardError503']);
  assert.deepEqual(schemas.HardError401!.properties!.error_id!.enum, ['invalid_session_id']);
  assert.deepEqual(schemas.HardError400!.required, ['error_id']);
  assert.deepEqual(schemas.SoftError!.required, ['error']);
  // Login answers its refusals with status 200 and only an error_id; GetNewSession names refused impersonation.
  const login = (doc.paths['/API/Login']!.post.responses['200'] as Content).content['application/json'].schema;
  assert.deepEqual(pinnedValues(login), ['true', 'invalid_login', 'ratelimit', 'internal_error']);
  assert.deepEqual(pinnedValues((doc.paths['/API/GetNewSession']!.post.responses['200'] as Content).content['application/json'].schema), ['bad_impersonate']);
  // Session routes can end in 401; sessionless ones cannot; WebSocket routes can be refused 403 at the upgrade.
  assert.deepEqual(Object.keys(doc.paths['/API/Login']!.post.responses), ['200', '400', '503']);
  assert.deepEqual(Object.keys(doc.paths['/API/InterruptAll']!.post.responses), ['200', '400', '401', '503']);
  assert.deepEqual(Object.keys(doc.paths['/API/InstallConfirmWS']!.post.responses), ['200', '400', '401', '403', '503']);
  assert.deepEqual(doc.paths['/API/InterruptAll']!.post.responses['401'], { $ref: '#/components/responses/HardError401' });
});

/** Whether an answer body fits an object schema: required keys present, no key outside `properties` when closed, pinned values kept. */
function fits(body: Record<string, unknown>, s: Schema): boolean {
  const target = s.$ref ? doc.components.schemas[s.$ref.split('/').at(-1)!]! : s;
  if (target.oneOf) return target.oneOf.some((alt) => fits(body, alt));
  if (!(target.required ?? []).every((k) => k in body)) return false;
  if (target.additionalProperties === false && !Object.keys(body).every((k) => k in (target.properties ?? {}))) return false;
  return Object.entries(target.properties ?? {}).every(([k, p]) => !(k in body) || ((p.enum === undefined || p.enum.includes(body[k])) && (p.const === undefined || p.const === body[k])));
}

test("the server's real answers fit the documented schemas of their status", async () => {
  const responseSchema = (route: string, status: number): Schema => {
    const r = doc.paths[`/API/${route}`]!.post.responses[String(status)]!;
    if ('$ref' in r) return doc.components.responses[r.$ref.split('/').at(-1)!]!.content['application/json'].schema;
    return r.content['application/json'].schema;
  };
  const owner = await server.session();
  const uma = await server.session({ 'X-SWARM-USER_ID': 'uma' });
  const cases: Array<[string, Record<string, unknown>, number]> = [
    ['InterruptAll', { session_id: owner }, 200],
    ['InterruptAll', { session_id: owner, other_sessions: 'maybe' }, 200],
    ['InterruptAll', { session_id: 'nope' }, 401],
    ['FixtureEcho', { session_id: uma, count: 1 }, 400],
    ['FixtureEcho', { session_id: owner, count: 3 }, 200],
    ['GetNewSession', { impersonateUser: 'nobody_here' }, 200],
    ['Login', { username: 'nobody_here', password: 'x'.repeat(64) }, 200],
  ];
  for (const [route, body, status] of cases) {
    const res = await server.api(route, body);
    assert.equal(res.status, status, `${route} ${res.text}`);
    assert.ok(fits(res.body, responseSchema(route, status)), `${route} answered ${res.text}, outside its ${status} schema`);
  }
  // A soft refusal is the SoftError shape; an unknown route is a 400 hard error.
  assert.ok(fits((await server.call('InterruptAll', owner, { other_sessions: 'maybe' })).body, { $ref: '#/components/schemas/SoftError' }));
  const unknown = await server.call('NoSuchRoute', owner);
  assert.equal(unknown.status, 400);
  assert.ok(fits(unknown.body, { $ref: '#/components/schemas/HardError400' }));
});

test('openapi-typescript turns the served document into types that compile and name every operation', async () => {
  const source = astToString(await openapiTS(JSON.parse(served.text) as Parameters<typeof openapiTS>[0]));
  for (const name of ['Login', 'GetNewSession', 'AddNewPreset', 'ChangeUserSettings', 'FixtureEcho', 'InstallConfirmWS']) assert.match(source, new RegExp(`^ {4}"?${name}"?: \\{`, 'm'), name);
  for (const name of ['HardError400', 'HardError401', 'HardError503', 'SoftError']) assert.match(source, new RegExp(`^ {8}${name}: \\{`, 'm'), name);
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-openapi-types-'));
  try {
    writeFileSync(path.join(dir, 'api.d.ts'), source);
    // A client written against the generated types: what it sends and reads must type-check, and a wrong
    // field must not (the @ts-expect-error lines fail the compile when the types are too loose).
    writeFileSync(
      path.join(dir, 'client.ts'),
      [
        "import type { components, operations, paths } from './api.js';",
        "type Body<Op extends keyof operations> = operations[Op]['requestBody'] extends { content: { 'application/json': infer B } } | undefined ? B : never;",
        "export const login: Body<'Login'> = { username: 'ann', password: 'a'.repeat(64) };",
        "export const preset: Body<'AddNewPreset'> = { session_id: 's', title: 't', description: 'd', param_map: { steps: 20, prompt: 'a cat' } };",
        "export const change: Body<'ChangeUserSettings'> = { session_id: 's', settings: { 'fileformat.imageformat': 'PNG', 'audio.volume': 0.5, 'ui.checkifsure': true, 'ui.tags': ['a'] } };",
        "export const echo: Body<'FixtureEcho'> = { session_id: 's', count: 2 };",
        "// @ts-expect-error param_map is required",
        "export const noMap: Body<'AddNewPreset'> = { session_id: 's', title: 't', description: 'd' };",
        "// @ts-expect-error a setting value is never an object",
        "export const badSetting: Body<'ChangeUserSettings'> = { session_id: 's', settings: { x: { y: 1 } } };",
        "type Ok = paths['/API/InterruptAll']['post']['responses'][200]['content']['application/json'];",
        "export const ok: Ok = { success: true };",
        "export const soft: Ok = { error: 'Invalid value' };",
        "export const hard: components['schemas']['HardError401'] = { error_id: 'invalid_session_id', error: 'Invalid session ID.' };",
        "// @ts-expect-error 401 answers only invalid_session_id",
        "export const wrongId: components['schemas']['HardError401'] = { error_id: 'bad_route' };",
        '',
      ].join('\n'),
    );
    const program = ts.createProgram([path.join(dir, 'client.ts')], { strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, skipLibCheck: false, types: [] });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    assert.deepEqual(diagnostics, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
