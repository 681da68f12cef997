// The login page: prehash the password in the browser, call Login, and open the user page on success.
import { callSessionless } from './api.js';
import { t } from './i18n.js';
import { $, busy, clearMessage, el, pageData, showMessage, startPage } from './page.js';
import { prehashPassword } from './prehash.js';
import { safeHtml } from './safe-html.js';

startPage('Log In');
const data = pageData();
$('#login-notice').append(safeHtml(data.login_notice ?? ''));
$('#register-link').hidden = !data.allow_registration;
// One button per configured OpenID Connect provider (the server lists them in the page data).
const providers = data.oauth_providers ?? [];
$('#oauth-buttons').hidden = providers.length === 0;
$('#oauth-buttons').append(...providers.map((p) => el('button', { type: 'button', dataset: { oauthProvider: p.id }, onclick: () => location.assign(`/OAuth/Start/${p.id}`) }, t('Sign in with {0}', p.name))));
if (data.allow_password_login === false) {
  $('#login-form').hidden = true;
  $('#password-login-off').hidden = providers.length > 0;
}

const form = $('#login-form');
const message = $('#login-message');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = $('#username').value;
  const password = $('#password').value;
  if (username.trim() === '' || password === '') {
    showMessage(message, t('Enter your username and password.'));
    (username.trim() === '' ? $('#username') : $('#password')).focus();
    return;
  }
  clearMessage(message);
  await busy($('#login-button'), async () => {
    try {
      await callSessionless('Login', { username, password: await prehashPassword(username, password) });
      showMessage(message, t('Logged in. Opening your page...'), 'ok');
      location.href = 'Text2Image';
    } catch (err) {
      showMessage(message, err.message);
      $('#password').select();
      $('#password').focus();
    }
  });
});
