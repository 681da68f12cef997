// Translations (docs/COMPATIBILITY.md#languages): `languages/<code>.json` of the project, then
// `<dataDir>/languages`, whose files may add languages or replace shipped ones. Read once at start-up; a broken
// file is logged and skipped.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

export interface Language {
  code: string;
  /** English name (`name_en`). */
  name: string;
  /** The language's own name for itself (`name_local`). */
  localName: string;
  /** English UI text to translation; '' means untranslated (the client shows the English). */
  keys: Record<string, string>;
}

/** A language code is a plain file name: letters, digits, `_` and `-` (so `../x` or `/etc/x` never name a file). */
export const LANGUAGE_CODE = /^[A-Za-z0-9_-]{1,32}$/;

/** Checks one language file's content; returns why it is unusable, or the language. */
export function parseLanguageFile(code: string, text: string): Language | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return `not valid JSON (${(err as Error).message})`;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'not a JSON object';
  const o = data as Record<string, unknown>;
  if (typeof o.name_en !== 'string' || typeof o.name_local !== 'string') return 'name_en and name_local must be strings';
  if (typeof o.keys !== 'object' || o.keys === null || Array.isArray(o.keys)) return 'keys must be an object';
  const keys: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.keys)) {
    if (typeof v !== 'string') return `the translation of '${k}' is not a string`;
    keys[k] = v;
  }
  return { code, name: o.name_en, localName: o.name_local, keys };
}

export class LanguageRegistry {
  private readonly byCode = new Map<string, Language>();

  /** Loads every `*.json` of the folders in order; a later folder's file replaces an earlier one of the same code. */
  static load(folders: readonly string[], log?: Logger): LanguageRegistry {
    const registry = new LanguageRegistry();
    for (const folder of folders) {
      let names: string[];
      try {
        names = readdirSync(folder).filter((n) => n.endsWith('.json')).sort();
      } catch {
        continue; // a missing folder simply adds nothing
      }
      for (const file of names) {
        const code = file.slice(0, -'.json'.length);
        if (!LANGUAGE_CODE.test(code)) {
          log?.error({ file: path.join(folder, file) }, 'language file skipped: its name is not a valid language code');
          continue;
        }
        let text: string;
        try {
          text = readFileSync(path.join(folder, file), 'utf8');
        } catch (err) {
          log?.error({ file: path.join(folder, file), err }, 'language file skipped: unreadable');
          continue;
        }
        const parsed = parseLanguageFile(code, text);
        if (typeof parsed === 'string') log?.error({ file: path.join(folder, file) }, `language file skipped: ${parsed}`);
        else registry.add(parsed);
      }
    }
    return registry;
  }

  add(language: Language): void {
    this.byCode.set(language.code, language);
  }

  /** Exact, case-sensitive lookup. */
  get(code: string): Language | undefined {
    return this.byCode.get(code);
  }

  /** Whether pages can be shown in `code`: a loaded language, or English, which needs no file (its texts are the keys). */
  offers(code: string): boolean {
    return code === 'en' || this.byCode.has(code);
  }

  /** Every code, sorted (the `language` setting's options). */
  codes(): string[] {
    return [...this.byCode.keys()].sort();
  }
}
