// The login page: prehash the password in the browser, call Login, and open the user page on success.
import { callSessionless } from './api.js';
import { t } from './i18n.js';
import { $, busy, clearMessage, pageData, showMessage, startPage } from './page.js';
import { prehashPassword } from './prehash.js';
import { safeHtml } from './safe-html.js';

startPage('Log In');
const data = pageData();
$('#login-notice').append(safeHtml(data.login_notice ?? ''));
$('#register-link').hidden = !data.allow_registration;
if (data.allow_password_login === false) {
  $('#login-form').hidden = true;
  $('#password-login-off').hidden = false;
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
