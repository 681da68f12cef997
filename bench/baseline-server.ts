// The ceiling for bench/run.ts: a bare node:http server doing the comparable minimum of an API call (read a
// JSON POST body, parse it, stringify a small JSON reply) and, for GET, answering a file's bytes that were
// read once at start. No routing, no store, no logging.
//
//   node --import tsx bench/baseline-server.ts [file-for-GET]
//
// Prints `baseline listening on http://127.0.0.1:PORT` on stderr once it accepts connections.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const staticFile = process.argv[2];
const staticBody = staticFile ? readFileSync(staticFile) : Buffer.from('<!doctype html><title>baseline</title>\n');

function reply(res: import('node:http').ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

const server = createServer((req, res) => {
  if (req.method === 'GET' || req.method === 'HEAD') {
    reply(res, 200, 'text/html; charset=utf-8', staticBody);
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let input: unknown;
    try {
      input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      reply(res, 400, 'application/json', '{"error":"bad json"}');
      return;
    }
    const keys = input !== null && typeof input === 'object' ? Object.keys(input).length : 0;
    reply(res, 200, 'application/json', JSON.stringify({ ok: true, keys, at: Date.now() }));
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stderr.write(`baseline listening on http://127.0.0.1:${port}\n`);
});

const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
