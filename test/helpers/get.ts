// GET (or HEAD) on a connection of its own, optionally from another loopback address (another client, as far as
// the server can tell), with the answer parsed as JSON when it is JSON.
import http from 'node:http';

export interface GetAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: unknown;
}

/** A GET on a connection of its own, from `localAddress` (another loopback address is another client). */
export function get(url: string, options: { localAddress?: string; headers?: Record<string, string>; method?: string } = {}): Promise<GetAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', agent: false, headers: { Connection: 'close', ...options.headers }, ...(options.localAddress ? { localAddress: options.localAddress } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: unknown = null;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: checked through text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}
