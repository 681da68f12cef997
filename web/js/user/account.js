// Account panels: password change, upstream API keys, and login tokens.
import { call, currentSession } from '../api.js';
import { t } from '../i18n.js';
import { $, attempt, clearMessage, el, formatTime, pageData, showMessage, uid } from '../page.js';
import { prehashPassword } from '../prehash.js';

// ---- provider sign-in (OpenID Connect): link or unlink your own provider account ----
async function setUpProviderLink() {
  let info;
  try {
    info = await call('GetMyOAuthLink');
  } catch {
    return; // no permission to read settings: nothing to show
  }
  if (info.providers.length === 0 && info.email === '') return;
  const box = el('div', { id: 'oauth-link', class: 'notice' });
  const message = el('div', { class: 'message', role: 'alert' });
  const render = () => {
    const parts = [];
    if (info.email !== '') parts.push(el('p', {}, t('You can sign in with the provider account {0}.', info.email)));
    else parts.push(el('p', {}, t('No provider account is linked to your account.')));
    if (!info.has_password) parts.push(el('p', { id: 'no-password-note' }, t('Your account has no password yet: you sign in through your provider. To set one, leave Old Password empty and choose a new password below.')));
    const actions = el('div', { class: 'actions' });
    for (const p of info.providers) actions.append(el('button', { type: 'button', class: 'small', dataset: { oauthLink: p.id }, onclick: () => location.assign(`/OAuth/Start/${p.id}?link=1`) }, t('Link {0}', p.name)));
    if (info.email !== '') {
      actions.append(
        el('button', { type: 'button', class: 'small danger', id: 'oauth-unlink', onclick: (e) => attempt(e.currentTarget, message, async () => {
          await call('UnlinkMyOAuth');
          info = await call('GetMyOAuthLink');
          render();
          showMessage(message, t('The provider account was unlinked.'), 'ok');
        }) }, t('Unlink')),
      );
    }
    box.replaceChildren(...parts, actions, message);
  };
  render();
  $('#password-form').before(box);
}

// ---- password ----
export function setUpPasswordForm() {
  void setUpProviderLink();
  const message = $('#password-message');
  $('#password-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const oldPassword = $('#old-password').value;
    const newPassword = $('#new-password').value;
    if (newPassword.length < 8) {
      showMessage(message, t('The password needs at least 8 characters.'));
      $('#new-password').focus();
      return;
    }
    if (newPassword !== $('#new-password2').value) {
      showMessage(message, t('Passwords do not match.'));
      $('#new-password2').focus();
      return;
    }
    clearMessage(message);
    await attempt($('#password-save'), message, async () => {
      const userId = currentSession()?.user_id ?? '';
      await call('ChangePassword', { oldPassword: await prehashPassword(userId, oldPassword), newPassword: await prehashPassword(userId, newPassword) });
      for (const id of ['#old-password', '#new-password', '#new-password2']) $(id).value = '';
      showMessage(message, t('Password changed. Your other logins were signed out.'), 'ok');
    });
  });
}

// ---- API keys ----
/** The key types the page offers (SwarmUI's user tab shows these two). */
/** The key types the server lists for this page (its registry, extensions included). */
const KEY_TYPES = pageData().api_keys ?? [];

export class ApiKeysPanel {
  constructor() {
    this.rows = $('#key-rows');
    this.message = $('#keys-message');
    this.status = {};
  }

  async load() {
    const answers = await Promise.all(KEY_TYPES.map((k) => call('GetAPIKeyStatus', { keyType: k.type })));
    KEY_TYPES.forEach((k, i) => (this.status[k.type] = answers[i].status));
    this.render();
  }

  statusText(raw) {
    if (raw === undefined) return t('Loading...');
    if (raw === 'not set') return t('not set');
    const m = /^last updated (.*)$/.exec(raw);
    return m ? `${t('last updated')} ${m[1]}` : raw;
  }

  render() {
    this.rows.replaceChildren(
      ...KEY_TYPES.map((k) => {
        const inputId = uid('key');
        const statusId = `${inputId}-status`;
        const input = el('input', { type: 'password', id: inputId, autocomplete: 'off', 'aria-describedby': statusId, dataset: { keyType: k.type } });
        const isSet = this.status[k.type] !== undefined && this.status[k.type] !== 'not set';
        return el(
          'div',
          { class: 'key-row', dataset: { keyRow: k.type } },
          el('label', { for: inputId }, t('{0} key', k.title)),
          el('div', { class: 'key-status', id: statusId }, `${t('Status')}: `, el('span', { dataset: { keyStatus: k.type } }, this.statusText(this.status[k.type]))),
          input,
          el(
            'div',
            { class: 'actions' },
            el('button', { type: 'button', class: 'small primary', onclick: (e) => this.save(k, input, e.currentTarget) }, t('Set Key')),
            el('button', { type: 'button', class: 'small', disabled: !isSet, onclick: (e) => this.unset(k, e.currentTarget) }, t('Remove Key')),
            el('a', { href: k.link, target: '_blank', rel: 'noopener noreferrer' }, t('Create a key')),
          ),
        );
      }),
    );
  }

  async save(k, input, button) {
    const key = input.value.trim();
    if (key === '') {
      showMessage(this.message, t('Paste the key into the field first.'));
      input.focus();
      return;
    }
    await attempt(button, this.message, async () => {
      await call('SetAPIKey', { keyType: k.type, key });
      input.value = '';
      await this.load();
      showMessage(this.message, t('{0} key saved.', k.title), 'ok');
    });
  }

  async unset(k, button) {
    await attempt(button, this.message, async () => {
      await call('SetAPIKey', { keyType: k.type, key: 'none' });
      await this.load();
      showMessage(this.message, t('{0} key removed.', k.title), 'ok');
    });
  }
}

// ---- login tokens ----
export class TokensPanel {
  constructor() {
    this.tokens = [];
    this.message = $('#tokens-message');
    $('#token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.create();
    });
    $('#token-copy').addEventListener('click', async () => {
      const value = $('#token-value').value;
      try {
        await navigator.clipboard.writeText(value);
        showMessage(this.message, t('Copied!'), 'ok');
      } catch {
        $('#token-value').select();
        showMessage(this.message, t('Copying is blocked here; the token is selected, copy it with the keyboard.'), 'info');
      }
    });
    $('#token-hide').addEventListener('click', () => {
      $('#token-value').value = '';
      $('#token-once').hidden = true;
      $('#token-reason').focus();
    });
  }

  async load() {
    try {
      const answer = await call('ListMyAuthTokens');
      this.tokens = [...answer.tokens].sort((a, b) => b.last_active - a.last_active);
      $('#tokens-body').hidden = false;
      this.render();
    } catch (err) {
      // With accounts off there are no tokens; the server says so in words.
      $('#tokens-body').hidden = true;
      showMessage(this.message, err.message, 'info');
    }
  }

  render() {
    $('#token-rows').replaceChildren(
      ...this.tokens.map((tok) =>
        el(
          'tr',
          { dataset: { tokenId: tok.id } },
          // data-label names each cell where narrow screens show the rows as stacked cards.
          el('td', { dataset: { label: t('Browser or reason') } }, tok.user_agent),
          el('td', { dataset: { label: t('Origin Address') } }, tok.origin_address),
          el('td', { dataset: { label: t('Created') } }, formatTime(tok.created)),
          el('td', { dataset: { label: t('Last Active') } }, formatTime(tok.last_active)),
          el('td', {}, tok.is_current ? el('strong', {}, t('This login')) : el('button', { type: 'button', class: 'small danger', 'aria-label': t('Revoke the token "{0}"', tok.user_agent), onclick: (e) => this.revoke(tok, e.currentTarget) }, t('Revoke'))),
        ),
      ),
    );
  }

  async create() {
    const reason = $('#token-reason').value;
    if (reason.trim() === '' || reason.length > 500) {
      showMessage(this.message, t('Write what the token is for (1 to 500 characters).'));
      $('#token-reason').focus();
      return;
    }
    await attempt($('#token-create'), this.message, async () => {
      const answer = await call('CreateAuthToken', { reason });
      $('#token-reason').value = '';
      $('#token-value').value = answer.token;
      $('#token-once').hidden = false;
      clearMessage(this.message);
      await this.load();
      $('#token-value').focus();
      $('#token-value').select();
    });
  }

  async revoke(tok, button) {
    if (!confirm(`${t('Revoke this token?')}\n\n${tok.user_agent}`)) return;
    await attempt(button, this.message, async () => {
      await call('RevokeMyAuthToken', { tokenId: tok.id });
      showMessage(this.message, t('Token revoked.'), 'ok');
      await this.load();
      $('#token-reason').focus();
    });
  }
}
