// How the reference turns any JSON value into text before reading it as a parameter, and the exact digits of
// integers too long for a JavaScript number (docs/COMPATIBILITY.md#exact-numbers).
//
// The reference's JSON reader keeps an integer token's digits however long it is; JSON.parse rounds every number
// to a double, so 9223372036854775807 would read as 9223372036854775808. The request parser records the digits
// it saw for such integers here, in a side table keyed by the object or array holding them, and leaves the plain
// (rounded) number in the value itself: a handler that never asks gets ordinary JSON values, never a wrapper
// object. Whoever turns a member into text (parameter binding, preset parameter maps, user settings) asks with
// `memberText(container, key)`; `tokenText` of an object or array writes the recorded digits back into its JSON.

/** Exact digits per container: member key (object) or index (array) to the integer text as sent. */
const EXACT = new WeakMap<object, Map<string | number, string>>();
/** Containers that hold, at any depth, a member recorded in EXACT (so JSON text of the rest stays fast). */
const HOLDS_EXACT = new WeakSet<object>();

/**
 * Records that `container[key]` was sent as the integer `text`, which its number value does not reproduce.
 * `ancestors` are the containers enclosing `container`, outermost first.
 */
export function recordExactNumber(container: object, key: string | number, text: string, ancestors: readonly object[]): void {
  let members = EXACT.get(container);
  if (!members) EXACT.set(container, (members = new Map()));
  members.set(key, text);
  HOLDS_EXACT.add(container);
  for (const a of ancestors) HOLDS_EXACT.add(a);
}

/** Drops what was recorded for `container[key]` (a repeated key whose last value is an ordinary one). */
export function forgetExactNumber(container: object, key: string | number): void {
  EXACT.get(container)?.delete(key);
}

/** The digits `container[key]` was sent with, when they are more than its number value can hold. */
export function exactNumberText(container: object, key: string | number): string | undefined {
  return EXACT.get(container)?.get(key);
}

/** Copies the recorded digits of `from`'s members to `to` (a shallow copy of `from`). */
export function copyExactNumbers(from: object, to: object): void {
  const members = EXACT.get(from);
  if (members) EXACT.set(to, new Map(members));
  if (HOLDS_EXACT.has(from)) HOLDS_EXACT.add(to);
}

/** The text form of a JSON value, as the reference renders a token before parsing it. */
export function tokenText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  return exactJson(value);
}

/** The text form of `container[key]`: tokenText, with an integer's digits as sent. */
export function memberText(container: object, key: string | number): string {
  return exactNumberText(container, key) ?? tokenText((container as Record<string | number, unknown>)[key]);
}

/** Compact JSON of a value from a request, with recorded integers written with the digits they were sent with. */
export function exactJson(value: unknown): string {
  if (typeof value !== 'object' || value === null || !HOLDS_EXACT.has(value)) return JSON.stringify(value);
  // Each recorded number is written as a marker string no client text can contain (a fresh random tag), then
  // the marker, quotes included, is replaced by the digits.
  const tag = `\u0000${Math.random().toString(36).slice(2)}:`;
  const digits: string[] = [];
  const text = JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    if (typeof v !== 'number' || typeof this !== 'object' || this === null) return v;
    const exact = exactNumberText(this, Array.isArray(this) ? Number(key) : key);
    if (exact === undefined) return v;
    digits.push(exact);
    return `${tag}${digits.length - 1}`;
  });
  if (digits.length === 0) return text;
  const marker = JSON.stringify(tag).slice(0, -1); // the opening quote and the tag as JSON writes them
  return text.replace(new RegExp(`${escapeRegExp(marker)}(\\d+)"`, 'g'), (_, i: string) => digits[Number(i)]!);
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}
