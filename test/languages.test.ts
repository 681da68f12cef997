// The shipped language files (docs/COMPATIBILITY.md#languages): English lists every UI text; German and French
// translate every one of them. Whoever adds a UI text to en.json adds its translations too.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { LANGUAGE_CODE, parseLanguageFile, type Language } from '../src/i18n/languages.js';
import { ROOT } from './helpers/server.js';

const DIR = path.join(ROOT, 'languages');

function load(code: string): Language {
  const parsed = parseLanguageFile(code, readFileSync(path.join(DIR, `${code}.json`), 'utf8'));
  assert.notEqual(typeof parsed, 'string', `${code}.json: ${String(parsed)}`);
  return parsed as Language;
}

test('every shipped language file is valid and named by a plain language code', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 3);
  for (const f of files) {
    assert.match(f.slice(0, -5), LANGUAGE_CODE, f);
    load(f.slice(0, -5));
  }
});

// That en.json has a key for each text the pages show is web-i18n.test.ts's check.
test('en.json lists the UI texts with every value empty', () => {
  const en = load('en');
  assert.ok(Object.keys(en.keys).length > 100);
  assert.deepEqual(Object.entries(en.keys).filter(([, v]) => v !== ''), []);
});

for (const code of ['de', 'fr']) {
  test(`${code}.json translates exactly the keys of en.json, none left empty`, () => {
    const en = Object.keys(load('en').keys).sort();
    const other = load(code);
    assert.deepEqual(Object.keys(other.keys).sort(), en);
    assert.deepEqual(Object.entries(other.keys).filter(([, v]) => v.trim() === ''), []);
  });
}
