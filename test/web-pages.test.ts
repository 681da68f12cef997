// What the page routes send besides the redirects: the page-data block (settings a page shows before any API
// call), the theme stylesheets chosen on the server, and the headers that keep the pages from running foreign
// script.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestServer } from './helpers/server.js';

async function page(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string; data: Record<string, unknown> }> {
  const res = await fetch(server.url + path, { redirect: 'manual', headers });
  const text = await res.text();
  const block = /<script type="application\/json" id="page-data">(.*?)<\/script>/s.exec(text);
  return { status: res.status, headers: res.headers, text, data: block ? (JSON.parse(block[1]!) as Record<string, unknown>) : {} };
}

const TITLE = 'Ours </script><script>alert(1)</script> & "co"';
const NOTICE = '<b>Hi</b> <!-- --> </script>\u2028';

describe('page data and headers', () => {
  let server: TestServer;
  before(async () => {
    server = await TestServer.start({
      settings: {
        'UserAuthorization.AuthorizationRequired': true,
        'UserAuthorization.AllowLocalhostBypass': false,
        'UserAuthorization.InstanceTitle': TITLE,
        'UserAuthorization.LoginNotice': NOTICE,
        'UserAuthorization.Registration.AllowRegistration': true,
        'UserAuthorization.Registration.SimplePasswordRegistration': false,
        'Install.ModelCatalog': 'no-such-catalog.json',
      },
    });
  });
  after(() => server.close());

  test('settings reach the page as JSON that cannot end its script block', async () => {
    const login = await page(server, '/Login');
    assert.equal(login.status, 200);
    // Exactly one script element of each kind: the title's </script> did not open a new one.
    assert.equal(login.text.match(/<script/g)!.length, 2);
    assert.ok(!login.text.includes('</script><script>alert'));
    assert.deepEqual(
      { title: login.data.instance_title, notice: login.data.login_notice, reg: login.data.allow_registration, pw: login.data.allow_password_login, page: login.data.page },
      { title: TITLE, notice: NOTICE, reg: false, pw: true, page: 'login' },
    );
    const register = await page(server, '/Register');
    assert.deepEqual([register.data.page, register.data.allow_password_registration], ['register', false]);
  });

  test('pages are sent with a Content-Security-Policy that allows only this server\'s scripts', async () => {
    const login = await page(server, '/Login');
    assert.equal(
      login.headers.get('content-security-policy'),
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'",
    );
    assert.equal(login.headers.get('cache-control'), 'no-store');
    assert.equal(login.headers.get('x-content-type-options'), 'nosniff');
    // No inline script anywhere: every <script> is the JSON block or has a src.
    for (const tag of login.text.match(/<script[^>]*>/g)!) assert.match(tag, /type="application\/json"|src="\/js\//);
  });

  test('the theme comes from the sui_theme_id cookie, else the server default, with the registry\'s stylesheets', async () => {
    const byDefault = await page(server, '/Login');
    assert.match(byDefault.text, /<html lang="en" data-theme="modern_dark" class="theme-dark">/);
    // Every page's head starts the same: charset first, then site.css, which the theme sheets come after to override.
    assert.match(byDefault.text, /<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<link rel="icon" href="\/imgs\/swarmcore.svg" type="image\/svg\+xml">\n<link rel="stylesheet" href="\/css\/site.css">\n<link rel="stylesheet" href="\/css\/themes\/modern.css" data-theme-sheet>/);
    assert.equal(byDefault.text.match(/<meta charset/g)!.length, 1);
    assert.match(byDefault.text, /<link rel="stylesheet" href="\/css\/themes\/modern.css" data-theme-sheet><link rel="stylesheet" href="\/css\/themes\/modern_dark.css" data-theme-sheet>/);
    const chosen = await page(server, '/Login', { Cookie: 'sui_theme_id=ctp_latte' });
    assert.match(chosen.text, /data-theme="ctp_latte" class="theme-light"/);
    assert.deepEqual(chosen.data.theme, { id: 'ctp_latte', name: 'Catppuccin Latte', is_dark: false, css_paths: ['css/themes/modern.css', 'css/themes/ctp_latte.css'] });
    const legacy = await page(server, '/Login', { Cookie: 'sui_theme_id=punked' });
    assert.match(legacy.text, /<link rel="stylesheet" href="\/css\/themes\/punked.css" data-theme-sheet><script/);
    const unknown = await page(server, '/Login', { Cookie: 'sui_theme_id="><script>' });
    assert.match(unknown.text, /data-theme="modern_dark"/);
  });

  test('the display language comes from its cookie when the language exists, with its translations', async () => {
    const de = await page(server, '/Login', { Cookie: 'display_language=de' });
    assert.equal(de.data.language, 'de');
    assert.equal((de.data.translations as Record<string, string>)['Log In'], 'Anmelden');
    assert.match(de.text, /<html lang="de"/);
    const bogus = await page(server, '/Login', { Cookie: 'display_language=../../etc' });
    assert.equal(bogus.data.language, 'en');
    assert.deepEqual((bogus.data.languages as Array<{ code: string }>).map((l) => l.code).slice(0, 1), ['en']);
  });

  test('the installer page lists the catalog, reads it again when the file changes, or says why it cannot', async () => {
    const install = await page(server, '/Install');
    assert.equal(install.status, 200);
    assert.deepEqual(install.data.models, []);
    assert.match(String(install.data.models_error), /^cannot read .*no-such-catalog\.json \(ENOENT\)$/);
    assert.equal((install.data.themes as unknown[]).length, 14);
    assert.equal(install.data.default_theme, 'modern_dark');

    const file = join(server.dataDir, 'no-such-catalog.json');
    const model = (id: string): object => ({ id, name: `Model ${id}`, description: `About ${id}`, url: `https://example.com/${id}.bin`, sha256: 'a'.repeat(64), size: 10, file: `${id}.bin`, default: id === 'one' });
    try {
      writeFileSync(file, JSON.stringify({ models: [model('one')] }));
      const one = await page(server, '/Install');
      assert.deepEqual([one.data.models, one.data.models_error], [[{ id: 'one', name: 'Model one', description: 'About one', size: 10, default: true }], undefined]);
      // A longer file, so the change shows in its size whatever the clock's resolution.
      writeFileSync(file, JSON.stringify({ models: [model('one'), model('two')] }));
      assert.deepEqual(((await page(server, '/Install')).data.models as Array<{ id: string }>).map((m) => m.id), ['one', 'two']);
    } finally {
      rmSync(file, { force: true });
    }
    assert.match(String((await page(server, '/Install')).data.models_error), /\(ENOENT\)$/);
  });

  test('page files are reachable only through their routes', async () => {
    for (const path of ['/pages/main.html', '/pages/login.html', '/PAGES/install.html']) {
      const res = await fetch(server.url + path, { redirect: 'manual' });
      assert.deepEqual([res.status, res.headers.get('location')], [302, '/Error/404'], path);
    }
  });
});
