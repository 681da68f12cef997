// GET /openapi.json: the OpenAPI document of the routes this server runs, built-in and extension ones, byte for
// byte what `swarmcore docs --format openapi` prints for the same routes (README.md, "API documentation").
import type { IncomingMessage, ServerResponse } from 'node:http';
import { renderOpenApi } from '../api/docs.js';
import type { Core } from '../core.js';

export const OPENAPI_PATH = '/openapi.json';

/** The document's text, as the CLI prints it (two-space indent, a final newline). */
export function openApiText(core: Core): string {
  return `${JSON.stringify(renderOpenApi(core.routes.all(), core.version), null, 2)}\n`;
}

// Rendered again only when the number of routes changed (an embedding program may add routes after start).
const rendered = new WeakMap<Core, { routes: number; body: Buffer }>();

/** Answers GET and HEAD of /openapi.json; false for every other request. */
export function handleOpenApi(core: Core, req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
  if (pathname !== OPENAPI_PATH || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const routes = core.routes.all().length;
  let cached = rendered.get(core);
  if (cached?.routes !== routes) {
    cached = { routes, body: Buffer.from(openApiText(core), 'utf8') };
    rendered.set(core, cached);
  }
  const body = cached.body;
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
