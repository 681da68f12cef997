// A local HTTP server standing in for a model host: serves generated files with Range support, and can drop a
// connection midway, answer 404, send wrong bytes or hold a transfer open. Records every request it sees.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedFile {
  bytes: Buffer;
  sha256: string;
  /** `drop-once`: the first full request sends half the bytes, then the connection is cut. */
  mode: 'ok' | 'drop-once' | 'missing' | 'corrupt' | 'hold';
}

export interface SeenRequest {
  path: string;
  range: string | null;
}

export function makeFile(size: number, mode: ServedFile['mode'] = 'ok'): ServedFile {
  const bytes = randomBytes(size);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), mode };
}

export class ModelHost {
  readonly seen: SeenRequest[] = [];
  private readonly dropped = new Set<string>();
  private readonly held: ServerResponse[] = [];
  private constructor(
    private readonly server: Server,
    readonly files: Map<string, ServedFile>,
  ) {}

  static async start(files: Record<string, ServedFile>): Promise<ModelHost> {
    const holder: { host?: ModelHost } = {};
    const server = createServer((req, res) => holder.host!.handle(req, res));
    holder.host = new ModelHost(server, new Map(Object.entries(files)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return holder.host;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Ends every held transfer by cutting its connection. */
  release(): void {
    for (const res of this.held.splice(0)) res.socket?.destroy();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const name = (req.url ?? '/').slice(1);
    const range = req.headers.range ?? null;
    this.seen.push({ path: name, range });
    const file = this.files.get(name);
    if (!file || file.mode === 'missing') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('no such file');
      return;
    }
    const body = file.mode === 'corrupt' ? Buffer.from(file.bytes).fill(0x41, 0, 16) : file.bytes;
    if (file.mode === 'hold') {
      res.writeHead(200, { 'Content-Length': body.length });
      res.write(body.subarray(0, 1024));
      this.held.push(res);
      return;
    }
    let start = 0;
    const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
    if (m) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
    } else {
      res.writeHead(200, { 'Content-Length': body.length });
    }
    if (file.mode === 'drop-once' && !this.dropped.has(name)) {
      this.dropped.add(name);
      const half = Math.floor(body.length / 2);
      res.write(body.subarray(start, half), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    res.end(body.subarray(start));
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
