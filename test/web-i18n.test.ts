// Every text the web pages show is a key of languages/en.json, so GetLanguage can translate the whole UI.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers/server.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

const decode = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

/** The English texts of the UI: `data-t` element texts, `data-t-attr` attributes, step and page titles, and `t('...')` calls. */
function uiTexts(): Map<string, string> {
  const found = new Map<string, string>();
  const add = (text: string, file: string): void => {
    if (!found.has(text)) found.set(text, path.relative(ROOT, file));
  };
  for (const file of filesUnder(path.join(ROOT, 'web'))) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.html')) {
      for (const m of text.matchAll(/<(\w+)([^>]*\sdata-t(?=[\s>])[^>]*)>([^<]*)<\/\1>/g)) add(decode(m[3]!.trim()), file);
      for (const m of text.matchAll(/<\w+[^>]*\sdata-t-attr="([^"]+)"[^>]*>/g)) {
        for (const attr of m[1]!.split(/\s+/)) {
          const value = new RegExp(`\\s${attr}="([^"]*)"`).exec(m[0]);
          if (value) add(decode(value[1]!), file);
        }
      }
      for (const m of text.matchAll(/data-(?:step-name|page-title)="([^"]+)"/g)) add(decode(m[1]!), file);
    } else if (file.endsWith('.js')) {
      for (const m of text.matchAll(/\bt\(\s*(['"])((?:\\.|(?!\1).)*)\1/g)) add(m[2]!.replace(/\\(.)/g, '$1'), file);
      for (const m of text.matchAll(/startPage\(\s*'([^']+)'/g)) add(m[1]!, file);
    }
  }
  return found;
}

test('every text of the web pages is a key of languages/en.json', () => {
  const keys = new Set(Object.keys((JSON.parse(readFileSync(path.join(ROOT, 'languages/en.json'), 'utf8')) as { keys: Record<string, string> }).keys));
  const texts = uiTexts();
  assert.ok(texts.size > 150, `only ${texts.size} texts found: the extraction is broken`);
  const missing = [...texts].filter(([text]) => !keys.has(text)).map(([text, file]) => `${file}: ${JSON.stringify(text)}`);
  assert.deepEqual(missing, []);
  assert.ok(!texts.has(''), 'an element marked data-t has no text');
});
