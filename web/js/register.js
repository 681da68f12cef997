// The registration page: create the account with RegisterBasic, then log in with the same password.
import { callSessionless } from './api.js';
import { t } from './i18n.js';
import { $, busy, clearMessage, el, pageData, showMessage, startPage } from './page.js';
import { cleanUserId, prehashPassword } from './prehash.js';
import { safeHtml } from './safe-html.js';

startPage('Create an account');
const data = pageData();
$('#register-notice').append(safeHtml(data.register_notice ?? ''));
// With Registration.OAuthRegistration: one button per provider; a new address then picks a user name.
const providers = data.oauth_providers ?? [];
$('#oauth-buttons').hidden = providers.length === 0;
$('#oauth-buttons').append(...providers.map((p) => el('button', { type: 'button', dataset: { oauthProvider: p.id }, onclick: () => location.assign(`/OAuth/Start/${p.id}`) }, t('Register with {0}', p.name))));
if (data.allow_password_registration === false) {
  $('#register-form').hidden = true;
  $('#password-registration-off').hidden = false;
}

const message = $('#register-message');
$('#register-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = $('#username').value;
  const password = $('#password').value;
  const id = cleanUserId(username);
  let problem = null;
  if (id.length < 3 || id.length > 100) problem = [t('The username needs 3 to 100 letters, digits or underscores.'), '#username'];
  else if (!/^[a-z]/.test(id)) problem = [t('The username must start with a letter.'), '#username'];
  else if (password.length < 8) problem = [t('The password needs at least 8 characters.'), '#password'];
  else if (password !== $('#password2').value) problem = [t('Passwords do not match.'), '#password2'];
  if (problem) {
    showMessage(message, problem[0]);
    $(problem[1]).focus();
    return;
  }
  clearMessage(message);
  await busy($('#register-button'), async () => {
    const hashed = await prehashPassword(id, password);
    try {
      await callSessionless('RegisterBasic', { username: id, password: hashed });
    } catch (err) {
      showMessage(message, err.message);
      return;
    }
    try {
      await callSessionless('Login', { username: id, password: hashed });
      showMessage(message, t('Account created. Opening your page...'), 'ok');
      location.href = 'Text2Image';
    } catch (err) {
      showMessage(message, t('The account was created, but logging in failed: {0}', err.message));
    }
  });
});
