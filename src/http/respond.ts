// The few answer shapes every part of the server writes: JSON (API answers and errors) and redirects.
import type { ServerResponse } from 'node:http';
import type { ApiError } from '../api/errors.js';
import { answerPieces, keptJson } from '../util/json-text.js';

/** A JSON answer as the reference sends it: no charset, explicit length, never cached. */
export function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>, closeConnection = false): void {
  const answer = answerPieces(body);
  // A kept answer (keepAsJson) knows its length; a short one comes as text, which node joins to the head.
  const length = keptJson(body)?.bytes.length ?? (typeof answer === 'string' ? Buffer.byteLength(answer) : answer.reduce((n, p) => n + (typeof p === 'string' ? Buffer.byteLength(p) : p.length), 0));
  // One writeHead with a flat list: cheaper than a setHeader per header. Headers set earlier on this response
  // (CORS, Set-Cookie, Connection) are merged in by writeHead.
  const headers = ['Content-Type', 'application/json', 'Content-Length', String(length), 'Cache-Control', 'no-store'];
  if (closeConnection) headers.push('Connection', 'close');
  res.writeHead(status, headers);
  if (typeof answer === 'string') return void res.end(answer);
  // Kept bytes (a cached preset list) go out as they are, between the parts serialized for this call.
  res.cork();
  for (let i = 0; i < answer.length - 1; i++) res.write(answer[i]);
  res.end(answer[answer.length - 1]);
  res.uncork();
}

export function sendApiError(res: ServerResponse, err: ApiError, closeConnection = false): void {
  sendJson(res, err.status, err.body, closeConnection);
}

export function redirect(res: ServerResponse, location: string, status = 302): void {
  res.statusCode = status;
  res.setHeader('Location', location);
  res.setHeader('Content-Length', 0);
  res.end();
}
