// The README's settings tables, generated from the settings registry (every server setting a fresh server has,
// with type, default and description). test/readme.test.ts checks the README holds exactly this text; after
// changing a setting, rewrite the README's tables with:
//   node --import tsx test/helpers/settings-table.ts --write
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Core } from '../../src/core.js';
import { CORE_SETTINGS, type SettingDef } from '../../src/settings/server-settings.js';
import { ROOT } from './server.js';

export const README = path.join(ROOT, 'README.md');
export const START = '<!-- settings-table:start (generated: node --import tsx test/helpers/settings-table.ts --write) -->';
export const END = '<!-- settings-table:end -->';

const USER_DEFAULT_PREFIX = 'Default for every user who has not changed it: ';

const TYPE_NAMES: Record<SettingDef['type'], string> = { bool: 'true/false', int: 'whole number', decimal: 'number', string: 'text', 'string[]': 'list' };

const cell = (s: string): string => s.replace(/<[^>]*>/g, '').replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

function defaultText(def: SettingDef): string {
  const d = def.default;
  const text = Array.isArray(d) ? d.join(',') : String(d);
  return text === '' ? '(empty)' : `\`${cell(text)}\``;
}

function row(def: SettingDef, description: string): string {
  const notes = [description];
  if (def.values) notes.push(`One of: ${def.values.map((v) => (v === '' ? '(empty)' : `\`${v}\``)).join(', ')}.`);
  if (def.secret) notes.push('Secret: `settings get` shows `(secret)`.');
  return `| \`${def.key}\` | ${TYPE_NAMES[def.type]} | ${defaultText(def)} | ${cell(notes.join(' '))} |`;
}

/** The generated Markdown between the README's markers. */
export async function settingsTables(): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-settings-table-'));
  let all: SettingDef[];
  try {
    const core = await Core.open({ dataDir: dir });
    try {
      all = core.settings.all();
    } finally {
      await core.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const server = new Set(CORE_SETTINGS.map((d) => d.key));
  const header = ['| setting | type | default | what it does |', '|---|---|---|---|'];
  const userDefaults = all.filter((d) => !server.has(d.key));
  return [
    ...header,
    ...all.filter((d) => server.has(d.key)).map((d) => row(d, d.description)),
    '',
    '<details>',
    `<summary>The ${userDefaults.length} <code>DefaultUser.*</code> settings: each user setting's default for every user who has not changed it</summary>`,
    '',
    ...header,
    ...userDefaults.map((d) => row(d, d.description.startsWith(USER_DEFAULT_PREFIX) ? d.description.slice(USER_DEFAULT_PREFIX.length) : d.description)),
    '',
    '</details>',
  ].join('\n');
}

/** The README's text between the markers, or null when the markers are missing. */
export function readmeTables(readme: string): string | null {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end < start) return null;
  return readme.slice(start + START.length, end).replace(/^\n/, '').replace(/\n$/, '');
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end < start) throw new Error(`README.md has no ${START} ... ${END} block`);
  writeFileSync(README, `${readme.slice(0, start + START.length)}\n${await settingsTables()}\n${readme.slice(end)}`);
  console.log('README.md settings tables rewritten.');
}
