// POSTs JSON on a connection of its own, never a reused keep-alive one. On a busy machine a test process can be
// held up for seconds (building a big body, waiting for a slow job) while the server closes the idle connection
// that fetch would reuse; the request then dies mid-upload (EPIPE, seen as 'fetch failed').
import http from 'node:http';

export function postOnNewConnection(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers } }, (res) => {
      let answer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (answer += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(answer) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(text);
  });
}
