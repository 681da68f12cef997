// A value already serialized as JSON: a large part of an answer that stays the same from call to call (a user's
// preset list) is written once and then reused as text instead of being serialized again on every call.

export class JsonText {
  /** `text` must be the JSON.stringify of some value. */
  constructor(readonly text: string) {}

  /** Wherever a plain JSON.stringify meets it (a WebSocket message, say), it is the value it stands for. */
  toJSON(): unknown {
    return JSON.parse(this.text) as unknown;
  }
}

/**
 * JSON.stringify of an answer object whose top-level values may be JsonText: the same text as JSON.stringify of
 * the values they stand for, without serializing them again.
 */
export function stringifyAnswer(body: Record<string, unknown>): string {
  let hasText = false;
  for (const key in body) {
    if (body[key] instanceof JsonText) {
      hasText = true;
      break;
    }
  }
  if (!hasText) return JSON.stringify(body);
  const parts: string[] = [];
  for (const key of Object.keys(body)) {
    const value = body[key];
    const text = value instanceof JsonText ? value.text : (JSON.stringify(value) as string | undefined);
    // As JSON.stringify does: members whose value has no JSON form (undefined, functions) are left out.
    if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}
