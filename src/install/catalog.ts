// The models the installer can download: a JSON catalog, built in or named by the Install.ModelCatalog setting
// (tests and private mirrors point it at their own file).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import BUILT_IN from './model-catalog.json' with { type: 'json' };

export interface CatalogModel {
  /** The id the installer sends in `models` (e.g. `sdxl1`). */
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly url: string;
  /** Lowercase hex SHA-256 of the whole file. */
  readonly sha256: string;
  /** Expected size in bytes, or null to trust the server's Content-Length (the hash still decides). */
  readonly size: number | null;
  /** Where the file goes, relative to `<dataDir>/Models`, with `/` separators. */
  readonly file: string;
  /** Ticked in the installer unless the person unticks it. */
  readonly default: boolean;
}

export class CatalogError extends Error {}

/** A relative path that stays inside its folder: no absolute paths, no `..`, no backslashes or empty parts. */
function isSafeRelativePath(p: string): boolean {
  if (p === '' || p.includes('\\') || p.includes('\0') || p.startsWith('/') || /^[A-Za-z]:/.test(p)) return false;
  return p.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

function checkModel(raw: unknown, index: number): CatalogModel {
  const m = raw as Record<string, unknown>;
  const where = `model #${index + 1}`;
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new CatalogError(`${where} is not an object`);
  const text = (key: string): string => {
    const v = m[key];
    if (typeof v !== 'string' || v.trim() === '') throw new CatalogError(`${where} needs a non-empty text '${key}'`);
    return v;
  };
  const id = text('id');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw new CatalogError(`${where} has an id with characters other than letters, digits, '_', '.' and '-'`);
  const url = text('url');
  if (!/^https?:\/\//i.test(url)) throw new CatalogError(`model '${id}' needs an http or https url`);
  const sha256 = text('sha256').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new CatalogError(`model '${id}' needs a 64-digit hex sha256`);
  const size = m.size ?? null;
  if (size !== null && !(typeof size === 'number' && Number.isSafeInteger(size) && size >= 0)) throw new CatalogError(`model '${id}' has a size that is not a whole number of bytes`);
  const file = text('file');
  if (!isSafeRelativePath(file)) throw new CatalogError(`model '${id}' has a file path that leaves the Models folder`);
  return { id, name: text('name'), description: typeof m.description === 'string' ? m.description : '', url, sha256, size, file, default: m.default === true };
}

/** Validates a parsed catalog document. */
export function parseCatalog(doc: unknown): CatalogModel[] {
  const list = (doc as { models?: unknown } | null)?.models;
  if (!Array.isArray(list)) throw new CatalogError("the catalog needs a 'models' list");
  const models = list.map(checkModel);
  const seen = new Set<string>();
  for (const m of models) {
    if (seen.has(m.id)) throw new CatalogError(`model id '${m.id}' is listed twice`);
    seen.add(m.id);
  }
  return models;
}

let builtIn: readonly CatalogModel[] | undefined;
/** The last catalog file read, kept until the file's size or modification time changes. */
let lastFile: { file: string; size: number; mtimeMs: number; models: readonly CatalogModel[] } | undefined;

/** The catalog in force: the file named by Install.ModelCatalog (relative to the data dir), else the built-in one. */
export async function loadCatalog(settingValue: string, dataDir: string): Promise<readonly CatalogModel[]> {
  if (settingValue.trim() === '') return (builtIn ??= parseCatalog(BUILT_IN));
  const file = path.resolve(dataDir, settingValue);
  let text: string;
  let info;
  try {
    info = await stat(file);
    if (lastFile?.file === file && lastFile.size === info.size && lastFile.mtimeMs === info.mtimeMs) return lastFile.models;
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CatalogError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new CatalogError(`${file} is not valid JSON`);
  }
  const models = parseCatalog(doc);
  lastFile = { file, size: info.size, mtimeMs: info.mtimeMs, models };
  return models;
}
