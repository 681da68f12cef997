// Server-local timestamps in the form the reference stores next to API keys and the install date.

/** Server local time as `YYYY-MM-DD HH:MM`. */
export function localTimestamp(d: Date = new Date()): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}
