// After a provider sign-in: the page to pick a user name for a new account (RegisterOAuth with the one-time
// oauth_tracker_key the server put in the form), or the page that says why the sign-in was refused.
import { callSessionless, failedWith } from './api.js';
import { t } from './i18n.js';
import { $, busy, clearMessage, pageData, showMessage, startPage } from './page.js';
import { cleanUserId } from './prehash.js';
import { safeHtml } from './safe-html.js';

const data = pageData();
const oauth = data.oauth ?? {};

/** Words for each reason the server refuses a sign-in for ({0}: the e-mail address, {1}: its domain). */
const REASONS = {
  not_configured: () => t('Signing in with this provider is not set up on this server.'),
  discovery_failed: () => t('The provider could not be reached. Try again later, or ask the server owner.'),
  bad_state: () => t('This sign-in was not started in this browser, has expired, or was already used. Start again from the login page.'),
  provider_error: () => t('The provider did not sign you in.'),
  exchange_failed: () => t('The provider refused to complete the sign-in.'),
  wrong_audience: () => t('The ID token was issued to another application, so it cannot sign you in here.'),
  wrong_issuer: () => t('The ID token was issued by another provider.'),
  expired: () => t('The ID token has expired. Sign in again.'),
  bad_signature: () => t("The ID token is not signed with the provider's keys."),
  bad_nonce: () => t('The ID token does not belong to this sign-in.'),
  bad_token: () => t('The ID token could not be read.'),
  no_email: () => t('The provider did not share an e-mail address, which this server needs to know who you are.'),
  unverified_email: () => t('The provider has not verified the e-mail address {0}, so it cannot be used to sign in.', oauth.email),
  domain_not_allowed: () => t('Addresses at {0} may not sign in to this server.', oauth.domain),
  no_account: () => t('No account on this server is linked to {0}. Ask the server owner to link it to your account.', oauth.email),
  email_taken: () => t('The address {0} is already linked to another account.', oauth.email),
  login_failed: () => t('The login could not be stored. Try again.'),
  busy: () => t('Too many sign-ins from this address. Wait a minute and try again.'),
};

if (oauth.mode === 'register') {
  startPage('Create an account');
  $('#oauth-register').hidden = false;
  $('#register-notice').append(safeHtml(data.register_notice ?? ''));
  $('#oauth-register-intro').textContent = t('{0} confirmed your address {1}. Pick a user name for your new account.', oauth.provider_name ?? '', oauth.email ?? '');
  const message = $('#oauth-register-message');
  $('#oauth-register-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const id = cleanUserId($('#username').value);
    if (id.length < 3 || id.length > 100) {
      showMessage(message, t('The username needs 3 to 100 letters, digits or underscores.'));
      $('#username').focus();
      return;
    }
    if (!/^[a-z]/.test(id)) {
      showMessage(message, t('The username must start with a letter.'));
      $('#username').focus();
      return;
    }
    clearMessage(message);
    await busy($('#oauth-register-button'), async () => {
      try {
        const key = /** @type {HTMLInputElement} */ ($('#oauth_tracker_key')).value;
        await callSessionless('RegisterOAuth', { username: id, oauth_tracker_key: key, oauth_type: oauth.provider ?? '' });
        showMessage(message, t('Account created. Opening your page...'), 'ok');
        location.href = '/Text2Image';
      } catch (err) {
        showMessage(message, failedWith(err, 'invalid_input') ? t('This sign-in has expired or was already used. Start again from the login page.') : err.message);
      }
    });
  });
} else {
  startPage('Sign in');
  $('#oauth-refused').hidden = false;
  const words = REASONS[oauth.reason];
  $('#oauth-refused-reason').textContent = words ? words() : String(oauth.message ?? '');
}
