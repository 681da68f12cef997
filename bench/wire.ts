// Raw HTTP and WebSocket calls for the fuzzer and the storm: any method, content type and body bytes, and an
// answer (status, text, parsed JSON) or a precise reason why there was none.
import http from 'node:http';
import WebSocket from 'ws';

export interface WireRequest {
  path: string;
  method: string;
  headers: Record<string, string>;
  /** null: no body and no Content-Type/Length. */
  body: Buffer | null;
}

export interface WireAnswer {
  status: number;
  text: string;
  /** The parsed body; undefined when it is not JSON. */
  json: unknown;
  location: string | undefined;
  setCookie: string[];
}

const ANSWER_DEADLINE_MS = 60_000;

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** One HTTP request; rejects only when no answer arrived (a refused body may be cut off once answered). */
export function httpCall(base: URL, req: WireRequest, agent: http.Agent | false): Promise<WireAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body) headers['Content-Length'] = req.body.length;
    let answered = false;
    const r = http.request({ host: base.hostname, port: base.port, path: req.path, method: req.method, headers, agent }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        const cookie = res.headers['set-cookie'] ?? [];
        resolve({ status: res.statusCode!, text, json: parse(text), location: res.headers.location, setCookie: cookie });
      });
      res.on('error', (err) => reject(err));
    });
    const timer = setTimeout(() => {
      r.destroy(new Error(`no answer within ${ANSWER_DEADLINE_MS / 1000} s`));
    }, ANSWER_DEADLINE_MS);
    r.on('error', (err) => {
      if (answered) return;
      clearTimeout(timer);
      reject(err);
    });
    r.end(req.body ?? undefined);
  });
}

export interface SocketAnswer {
  /** Every message, parsed (undefined for a message that is not JSON), with its text. */
  messages: { text: string; json: unknown }[];
  code: number;
}

/** Opens /API/<route> as a WebSocket, sends `first` (if any) and collects messages until the server closes. */
export function socketCall(base: URL, path: string, headers: Record<string, string>, first: Buffer | string): Promise<SocketAnswer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${base.host}${path}`, { headers });
    const messages: SocketAnswer['messages'] = [];
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`WebSocket ${path} not closed by the server within ${ANSWER_DEADLINE_MS / 1000} s`));
    }, ANSWER_DEADLINE_MS);
    ws.on('open', () => ws.send(first));
    ws.on('message', (data) => {
      const text = String(data);
      messages.push({ text, json: parse(text) });
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`WebSocket upgrade refused with HTTP ${res.statusCode}`));
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ messages, code });
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
