// Server section, Users: every account with its roles, creation time and last activity (AdminListUserSummaries);
// adding one (AdminAddUser), and per account a dialog to set its roles (AdminChangeUserSettings), reset its password
// (AdminSetUserPassword), link the e-mail a sign-in provider vouches for (AdminGetUserInfo, AdminSetUserOAuthEmail),
// stop its generations (AdminInterruptUser) and delete it (AdminDeleteUser). Each refusal is shown in the server's
// words next to the control that caused it.
import { call } from '../api.js';
import { t } from '../i18n.js';
import { $, attempt, clearMessage, el, formatTime, showMessage } from '../page.js';
import { cleanUserId, prehashPassword } from '../prehash.js';
import { hasPermission } from './access.js';

/** The built-in roles, offered when the user may not list roles (configure_roles). */
const BUILT_IN_ROLES = ['owner', 'admin', 'poweruser', 'user', 'guest'];

export class UsersPanel {
  constructor() {
    /** @type {Array<{ id: string, roles: string[], created: number, last_used: number | null }>} */
    this.users = [];
    /** Role id → display name, when the roles could be listed. */
    this.roleNames = {};
    /** Role ids to offer, in order. */
    this.roleIds = [...BUILT_IN_ROLES];
    /** The account the dialog shows. */
    this.editing = null;
    this.opener = null;
    this.message = $('#users-message');
    this.dialog = $('#user-dialog');
    $('#user-add-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.add();
    });
    $('#user-roles-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.saveRoles();
    });
    $('#user-password-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.resetPassword();
    });
    $('#user-oauth-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.saveOAuthEmail();
    });
    $('#user-interrupt').addEventListener('click', (e) => void this.interrupt(e.currentTarget));
    $('#user-delete').addEventListener('click', (e) => void this.remove(e.currentTarget));
    $('#user-dialog-close').addEventListener('click', () => this.dialog.close());
    this.dialog.addEventListener('close', () => {
      // The event arrives a task after the dialog closed: if it was opened again meanwhile (Escape, then Enter at
      // once), this close belongs to the old opening and must not undo the new one.
      if (this.dialog.open) return;
      const id = this.editing;
      this.editing = null;
      for (const id of ['#user-password-new', '#user-password-repeat', '#user-oauth-email']) $(id).value = '';
      // The list may have been redrawn meanwhile: then the same row's button takes the focus back.
      const again = id ? document.querySelector(`tr[data-user-id="${CSS.escape(id)}"] button`) : null;
      const target = this.opener && this.opener.isConnected ? this.opener : again;
      if (target instanceof HTMLElement) target.focus();
    });
  }

  async load() {
    const [summaries, roles] = await Promise.all([call('AdminListUserSummaries'), hasPermission('configure_roles') ? call('AdminListRoles') : null]);
    this.users = summaries.users;
    if (roles) {
      this.roleNames = Object.fromEntries(Object.entries(roles.roles).map(([id, r]) => [id, r.name]));
      this.roleIds = Object.keys(roles.roles);
    } else {
      this.roleNames = {};
      this.roleIds = [...new Set([...BUILT_IN_ROLES, ...this.users.flatMap((u) => u.roles)])];
    }
    this.render();
  }

  roleName(id) {
    const name = this.roleNames[id];
    return name && name !== id ? `${t(name)} (${id})` : id;
  }

  render() {
    // A redraw keeps the keyboard focus on the same row's button.
    const active = document.activeElement;
    const focusedRow = active instanceof HTMLElement ? active.closest('tr[data-user-id]') : null;
    const keep = focusedRow instanceof HTMLElement ? focusedRow.dataset.userId : undefined;
    $('#user-rows').replaceChildren(
      ...this.users.map((u) =>
        el(
          'tr',
          { dataset: { userId: u.id } },
          el('td', { dataset: { label: t('Name') } }, el('strong', {}, u.id)),
          el('td', { dataset: { label: t('Roles') } }, u.roles.length > 0 ? u.roles.map((r) => this.roleName(r)).join(', ') : t('no roles')),
          el('td', { dataset: { label: t('Created') } }, formatTime(u.created)),
          el('td', { dataset: { label: t('Last used') } }, u.last_used === null ? t('no login now') : formatTime(u.last_used)),
          el('td', {}, el('button', { type: 'button', class: 'small', 'aria-label': t('Manage {0}', u.id), onclick: (e) => this.open(u.id, e.currentTarget) }, t('Manage'))),
        ),
      ),
    );
    if (keep !== undefined) /** @type {HTMLElement | null} */ (document.querySelector(`tr[data-user-id="${CSS.escape(keep)}"] button`))?.focus();
    const select = $('#user-add-role');
    const chosen = select.value || 'user';
    select.replaceChildren(...this.roleIds.map((id) => el('option', { value: id, selected: id === chosen }, this.roleName(id))));
    // A redraw while the dialog is open keeps the boxes the person ticked.
    if (this.editing) this.fillDialog(true);
  }

  async add() {
    const box = $('#user-add-message');
    const name = $('#user-add-name').value.trim();
    const password = $('#user-add-password').value;
    if (name === '') {
      showMessage(box, t('Write a username first.'));
      $('#user-add-name').focus();
      return;
    }
    if (password.length < 8) {
      showMessage(box, t('The password needs at least 8 characters.'));
      $('#user-add-password').focus();
      return;
    }
    clearMessage(box);
    await attempt($('#user-add-button'), box, async () => {
      await call('AdminAddUser', { name, password: await prehashPassword(name, password), role: $('#user-add-role').value });
      $('#user-add-name').value = '';
      $('#user-add-password').value = '';
      await this.load();
      showMessage(box, t('Account {0} added.', cleanUserId(name)), 'ok');
    });
  }

  open(id, opener) {
    this.editing = id;
    this.opener = opener;
    for (const box of ['#user-roles-message', '#user-password-message', '#user-oauth-message', '#user-interrupt-message', '#user-delete-message']) clearMessage($(box));
    this.fillDialog();
    this.dialog.showModal();
    void this.loadOAuthEmail(id);
  }

  /** Shows the sign-in e-mail linked to the account `id`; the field stays disabled until the server has answered. */
  async loadOAuthEmail(id) {
    const input = $('#user-oauth-email');
    const save = $('#user-oauth-save');
    input.value = '';
    input.disabled = true;
    save.disabled = true;
    try {
      const info = await call('AdminGetUserInfo', { name: id });
      // The dialog may have been closed or opened for another account meanwhile.
      if (this.editing !== id) return;
      input.value = info.oauth_email;
      input.disabled = false;
      save.disabled = false;
    } catch (err) {
      if (this.editing === id) showMessage($('#user-oauth-message'), err.message);
    }
  }

  async saveOAuthEmail() {
    const box = $('#user-oauth-message');
    const name = this.editing;
    const email = $('#user-oauth-email').value.trim();
    await attempt($('#user-oauth-save'), box, async () => {
      await call('AdminSetUserOAuthEmail', { name, email });
      // The server keeps the address in lower case: show what it stored.
      const stored = (await call('AdminGetUserInfo', { name })).oauth_email;
      if (this.editing !== name) return;
      $('#user-oauth-email').value = stored;
      showMessage(box, stored === '' ? t('{0} no longer signs in with a provider e-mail.', name) : t('{0} now signs in with the provider e-mail {1}.', name, stored), 'ok');
    });
  }

  fillDialog(keepTicks = false) {
    const user = this.users.find((u) => u.id === this.editing);
    if (!user) return;
    const boxes = [...this.dialog.querySelectorAll('input[name="user-role"]')];
    const ticked = keepTicks && boxes.length > 0 ? boxes.filter((i) => i.checked).map((i) => i.value) : user.roles;
    $('#user-dialog-heading').textContent = t('Account: {0}', user.id);
    $('#user-password-name').value = user.id;
    $('#user-interrupt-group').hidden = !hasPermission('interrupt_others');
    const ids = [...new Set([...this.roleIds, ...user.roles, ...ticked])];
    $('#user-role-choices').replaceChildren(
      ...ids.map((id) => el('label', { class: 'check' }, el('input', { type: 'checkbox', name: 'user-role', value: id, checked: ticked.includes(id) }), el('span', { class: 'check-text' }, this.roleName(id)))),
    );
  }

  async saveRoles() {
    const box = $('#user-roles-message');
    const name = this.editing;
    const roles = [...this.dialog.querySelectorAll('input[name="user-role"]')].filter((i) => i.checked).map((i) => i.value);
    if (roles.length === 0) {
      showMessage(box, t('Tick at least one role.'));
      return;
    }
    await attempt($('#user-roles-save'), box, async () => {
      await call('AdminChangeUserSettings', { name, settings: { roles } });
      await this.load();
      showMessage(box, t('Roles of {0} saved.', name), 'ok');
    });
  }

  async resetPassword() {
    const box = $('#user-password-message');
    const name = this.editing;
    const password = $('#user-password-new').value;
    if (password.length < 8) {
      showMessage(box, t('The password needs at least 8 characters.'));
      $('#user-password-new').focus();
      return;
    }
    if (password !== $('#user-password-repeat').value) {
      showMessage(box, t('Passwords do not match.'));
      $('#user-password-repeat').focus();
      return;
    }
    await attempt($('#user-password-save'), box, async () => {
      await call('AdminSetUserPassword', { name, password: await prehashPassword(name, password) });
      $('#user-password-new').value = '';
      $('#user-password-repeat').value = '';
      showMessage(box, t('Password of {0} reset. Every login of the account has ended.', name), 'ok');
    });
  }

  async interrupt(button) {
    const box = $('#user-interrupt-message');
    const name = this.editing;
    await attempt(button, box, async () => {
      await call('AdminInterruptUser', { name });
      showMessage(box, t('Stopped the generations of {0}.', name), 'ok');
    });
  }

  async remove(button) {
    const box = $('#user-delete-message');
    const name = this.editing;
    if (!confirm(t('Delete the account {0} with its presets, settings and logins? This cannot be undone.', name))) return;
    await attempt(button, box, async () => {
      await call('AdminDeleteUser', { name });
      this.dialog.close();
      await this.load();
      showMessage(this.message, t('Account {0} deleted.', name), 'ok');
    });
  }
}
