// A value already serialized as JSON: a large part of an answer that stays the same from call to call (a user's
// preset list) is written once and then reused as bytes instead of being serialized and encoded on every call.

export class JsonText {
  private encoded: Buffer | null = null;

  /** `text` must be the JSON.stringify of some value. */
  constructor(readonly text: string) {}

  /** The text as UTF-8, encoded once. */
  get bytes(): Buffer {
    this.encoded ??= Buffer.from(this.text, 'utf8');
    return this.encoded;
  }

  /** Wherever a plain JSON.stringify meets it (a WebSocket message, say), it is the value it stands for. */
  toJSON(): unknown {
    return JSON.parse(this.text) as unknown;
  }
}

const WHOLE = Symbol('the answer as UTF-8 JSON');

/** An answer's JSON, kept: its bytes, and for a short answer also its text (sent as text, see sendJson). */
export interface KeptJson {
  readonly bytes: Buffer;
  /** Null when the answer is INLINE_TEXT_MAX characters or longer. */
  readonly text: string | null;
}

/**
 * Gives an answer object that will be sent many times unchanged its JSON, made now: keptJson then hands it out
 * instead of serializing the object again. The object itself stays as it was for every other reader (it must
 * not be changed afterwards).
 */
export function keepAsJson<T extends Record<string, unknown>>(answer: T): T {
  const pieces = answerPieces(answer);
  const bytes = typeof pieces === 'string' ? Buffer.from(pieces, 'utf8') : Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
  const kept: KeptJson = { bytes, text: typeof pieces === 'string' && pieces.length < INLINE_TEXT_MAX ? pieces : null };
  Object.defineProperty(answer, WHOLE, { value: kept, enumerable: false });
  return answer;
}

/** The JSON keepAsJson made for this answer object, if it did. */
export function keptJson(answer: Record<string, unknown>): KeptJson | undefined {
  return (answer as { [WHOLE]?: KeptJson })[WHOLE];
}

/** `"key":` of the member names answers use (a fixed set in the handlers), each serialized once. */
const memberNames = new Map<string, string>();
function memberName(key: string): string {
  let text = memberNames.get(key);
  if (text === undefined) {
    text = `${JSON.stringify(key)}:`;
    if (memberNames.size < 4096) memberNames.set(key, text);
  }
  return text;
}

/** A JsonText shorter than this goes into an answer as text; a longer one as its cached bytes. */
const INLINE_TEXT_MAX = 4096;

/**
 * An answer object as JSON: one string when it holds no large JsonText, else the pieces to send in order, the
 * large JsonText values as their cached bytes; either way exactly the JSON.stringify of the values they stand for.
 */
export function answerPieces(body: Record<string, unknown>): string | Array<string | Buffer> {
  const kept = keptJson(body);
  if (kept !== undefined) return kept.text ?? [kept.bytes];
  let hasText = false;
  for (const key in body) {
    if (body[key] instanceof JsonText) {
      hasText = true;
      break;
    }
  }
  if (!hasText) return JSON.stringify(body);
  const pieces: Array<string | Buffer> = [];
  let open = '{';
  let first = true;
  for (const key of Object.keys(body)) {
    const value = body[key];
    const text = value instanceof JsonText ? value : (JSON.stringify(value) as string | undefined);
    // As JSON.stringify does: members whose value has no JSON form (undefined, functions) are left out.
    if (text === undefined) continue;
    open += `${first ? '' : ','}${memberName(key)}`;
    first = false;
    if (typeof text === 'string') open += text;
    else if (text.text.length < INLINE_TEXT_MAX) open += text.text;
    else {
      pieces.push(open, text.bytes);
      open = '';
    }
  }
  if (pieces.length === 0) return `${open}}`;
  pieces.push(`${open}}`);
  return pieces;
}
