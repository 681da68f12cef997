// The few answer shapes every part of the server writes: JSON (API answers and errors) and redirects.
import type { ServerResponse } from 'node:http';
import type { ApiError } from '../api/errors.js';
import { stringifyAnswer } from '../util/json-text.js';

/** A JSON answer as the reference sends it: no charset, explicit length, never cached. */
export function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>, closeConnection = false): void {
  const text = stringifyAnswer(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.setHeader('Cache-Control', 'no-store');
  if (closeConnection) res.setHeader('Connection', 'close');
  res.end(text);
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
