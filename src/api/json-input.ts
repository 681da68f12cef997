// Turns raw request bytes into the input object, refusing what the reference would choke on: invalid UTF-8,
// non-object JSON and pathological nesting (checked before parsing, so nothing recurses on it).
import { apiError, type ApiError } from './errors.js';

/** Deepest nesting of objects/arrays accepted in a request. Real clients stay under 10. */
export const MAX_JSON_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function badBody(why: string): ApiError {
  return apiError('internal_error', `The request body is not a valid JSON object: ${why}.`);
}

/** Nesting depth of JSON text, ignoring brackets inside strings; stops counting past the limit. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

export function parseInput(body: Buffer | string): Record<string, unknown> {
  let text: string;
  if (typeof body === 'string') text = body;
  else {
    try {
      text = utf8.decode(body);
    } catch {
      throw badBody('it is not valid UTF-8');
    }
  }
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) throw badBody(`it is nested deeper than ${MAX_JSON_DEPTH} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw badBody((err as Error).message.replace(/\.$/, ''));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badBody(`the top level is ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, not an object`);
  }
  return value as Record<string, unknown>;
}
