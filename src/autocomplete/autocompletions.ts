// Prompt autocompletion lists (docs/COMPATIBILITY.md#autocompletions): `.txt`/`.csv` files under
// `<dataDir>/Autocompletions`, turned into the `display\nword[\ncategory\ncount\naliases]` entries GetMyUserData
// sends.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { listFiles } from '../util/list-files.js';

export const AUTOCOMPLETE_FOLDER = 'Autocompletions';
const EXTENSIONS = ['txt', 'csv'];

export function autocompleteFiles(dataDir: string): Promise<readonly string[]> {
  return listFiles(path.join(dataDir, AUTOCOMPLETE_FOLDER), EXTENSIONS);
}

/**
 * Splits one line: `,` separates; a `"` right after a `,` opens a quoted part where `""` is a quote and `,` is
 * text; a backslash drops itself and the character after it.
 */
export function splitCompletionLine(line: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (quoted) {
      if (c !== '"') current += c;
      else if (line[i + 1] === '"') {
        current += '"';
        i++;
      } else quoted = false;
    } else if (c === ',') {
      parts.push(current);
      current = '';
      if (line[i + 1] === '"') {
        quoted = true;
        i++;
      }
    } else current += c;
  }
  parts.push(current);
  return parts;
}

const INT32 = /^\s*[+-]?\d+\s*$/;

export interface CompletionOptions {
  escapeParens: boolean;
  suffix: string;
  /** `Spaces` turns `_` into spaces, `Underscores` the reverse; anything else leaves words alone. */
  spacingMode: string;
}

export function completionEntry(line: string, o: CompletionOptions): string {
  let parts = splitCompletionLine(line);
  if (parts.length === 2 && INT32.test(parts[1]!) && Math.abs(Number(parts[1])) <= 2 ** 31) parts = [parts[0]!, '0', parts[1]!, ''];
  let word = parts[0]!;
  if (o.spacingMode === 'Spaces') word = word.replaceAll('_', ' ');
  else if (o.spacingMode === 'Underscores') word = word.replaceAll(' ', '_');
  word += o.suffix;
  if (o.escapeParens) word = word.replaceAll('(', '\\(').replaceAll(')', '\\)');
  return `${word}\n${parts.join('\n')}`;
}

/** The usable lines of a file: `\r` counts as a line break; blank lines and `#` comments are dropped. */
export function completionLines(text: string): string[] {
  return text
    .replace(/\r/g, '\n')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

const cache = new Map<string, { mtimeMs: number; size: number; lines: string[] }>();

/**
 * The entries for a user's chosen source, or null when none is chosen or the file is not (or no longer) in the
 * folder. The name must be one of the listed files exactly, so it can never reach outside the folder.
 */
export async function autocompletionsFor(dataDir: string, source: string, o: CompletionOptions): Promise<string[] | null> {
  if (source.trim() === '') return null;
  if (!(await autocompleteFiles(dataDir)).includes(source)) return null;
  const file = path.join(dataDir, AUTOCOMPLETE_FOLDER, ...source.split('/'));
  let lines: string[];
  try {
    const info = await stat(file);
    const cached = cache.get(file);
    if (cached && cached.mtimeMs === info.mtimeMs && cached.size === info.size) lines = cached.lines;
    else {
      lines = completionLines(await readFile(file, 'utf8'));
      cache.set(file, { mtimeMs: info.mtimeMs, size: info.size, lines });
    }
  } catch {
    return null;
  }
  return lines.map((l) => completionEntry(l, o));
}
