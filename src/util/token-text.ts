// How the reference turns any JSON value into text before reading it as a parameter.

/** The text form of a JSON value, as the reference renders a token before parsing it. */
export function tokenText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  return JSON.stringify(value);
}
