// Server section, Roles: every role (AdminListRoles), adding one (AdminAddRole), and a dialog that edits a role's
// limits and permissions (AdminEditRole) or deletes it (AdminDeleteRole). Permissions are grouped, named and
// described as AdminListPermissions gives them, in its canonical order.
import { call } from '../api.js';
import { t } from '../i18n.js';
import { $, attempt, clearMessage, el, showMessage } from '../page.js';
import { cleanUserId } from '../prehash.js';

/** Words for the safety levels that deserve a warning. */
const SAFETY_WORDS = {
  POWERFUL: () => t('Powerful: gives control over the server or other accounts.'),
  RISKY: () => t('Risky: can harm the server or other users if misused.'),
};

export class RolesPanel {
  constructor() {
    /** @type {Record<string, any>} */
    this.roles = {};
    /** @type {{ permissions: Record<string, any>, ordered: string[] } | null} */
    this.permissions = null;
    this.editing = null;
    this.opener = null;
    this.message = $('#roles-message');
    this.dialog = $('#role-dialog');
    this.dialogMessage = $('#role-dialog-message');
    $('#role-add-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.add();
    });
    $('#role-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.save();
    });
    $('#role-cancel').addEventListener('click', () => this.dialog.close());
    $('#role-delete').addEventListener('click', (e) => void this.remove(e.currentTarget));
    this.dialog.addEventListener('close', () => {
      // A close event arriving after the dialog was opened again belongs to the earlier opening (see users.js).
      if (this.dialog.open) return;
      const id = this.editing;
      this.editing = null;
      // The list may have been redrawn meanwhile: then the same row's button takes the focus back.
      const again = id ? document.querySelector(`tr[data-role-id="${CSS.escape(id)}"] button`) : null;
      const target = this.opener && this.opener.isConnected ? this.opener : again;
      if (target instanceof HTMLElement) target.focus();
    });
  }

  async load() {
    const [roles, permissions] = await Promise.all([call('AdminListRoles'), call('AdminListPermissions')]);
    this.roles = roles.roles;
    this.permissions = permissions;
    this.render();
  }

  permissionSummary(role) {
    if (role.permissions.includes('*')) return t('Every permission');
    return t('{0} permissions', role.permissions.length);
  }

  render() {
    // A redraw keeps the keyboard focus on the same row's button.
    const active = document.activeElement;
    const focusedRow = active instanceof HTMLElement ? active.closest('tr[data-role-id]') : null;
    const keep = focusedRow instanceof HTMLElement ? focusedRow.dataset.roleId : undefined;
    $('#role-rows').replaceChildren(
      ...Object.entries(this.roles).map(([id, role]) =>
        el(
          'tr',
          { dataset: { roleId: id } },
          el('td', { dataset: { label: t('Role') } }, el('strong', {}, t(role.name)), ' ', el('span', { class: 'setting-id' }, id), role.is_auto_generated ? el('div', { class: 'muted' }, t('built-in')) : null),
          el('td', { dataset: { label: t('Description') } }, t(role.description)),
          el('td', { dataset: { label: t('Permissions') } }, this.permissionSummary(role)),
          el('td', {}, el('button', { type: 'button', class: 'small', 'aria-label': t('Edit role {0}', id), onclick: (e) => this.open(id, e.currentTarget) }, t('Edit'))),
        ),
      ),
    );
    if (keep !== undefined) /** @type {HTMLElement | null} */ (document.querySelector(`tr[data-role-id="${CSS.escape(keep)}"] button`))?.focus();
    if (this.editing && this.dialog.open) this.renderPermissions(this.checkedPermissions());
  }

  async add() {
    const box = $('#role-add-message');
    const name = $('#role-add-name').value.trim();
    if (name === '') {
      showMessage(box, t('Write a role name first.'));
      $('#role-add-name').focus();
      return;
    }
    clearMessage(box);
    await attempt($('#role-add-button'), box, async () => {
      await call('AdminAddRole', { name });
      $('#role-add-name').value = '';
      await this.load();
      const id = cleanUserId(name);
      showMessage(box, t('Role {0} added. Give it permissions now.', id), 'ok');
      if (this.roles[id]) this.open(id, $('#role-add-button'));
    });
  }

  open(id, opener) {
    const role = this.roles[id];
    if (!role) return;
    this.editing = id;
    this.opener = opener;
    clearMessage(this.dialogMessage);
    $('#role-dialog-heading').textContent = t('Role: {0}', `${t(role.name)} (${id})`);
    $('#role-description').value = role.description;
    $('#role-max-t2i').value = String(role.max_t2i_simultaneous);
    $('#role-max-depth').value = String(role.max_outpath_depth);
    $('#role-unsafe').checked = role.allow_unsafe_outpaths;
    $('#role-whitelist').value = role.model_whitelist.join(', ');
    $('#role-blacklist').value = role.model_blacklist.join(', ');
    // Built-in roles cannot be deleted, so the dialog does not offer it.
    $('#role-delete').hidden = role.is_auto_generated;
    this.renderPermissions(new Set(role.permissions));
    this.dialog.showModal();
  }

  checkedPermissions() {
    return new Set([...this.dialog.querySelectorAll('input[name="role-permission"]')].filter((i) => i.checked).map((i) => i.value));
  }

  /** One fieldset per permission group, in canonical order; each permission a checkbox with its description. */
  renderPermissions(checked) {
    if (!this.permissions) return;
    const all = this.permissions.permissions;
    /** @type {Map<string, { description: string, ids: string[] }>} */
    const groups = new Map();
    const ids = [...this.permissions.ordered, ...[...checked].filter((id) => !(id in all))];
    for (const id of ids) {
      const name = all[id]?.group.name ?? t('Unknown permissions');
      if (!groups.has(name)) groups.set(name, { description: all[id]?.group.description ?? '', ids: [] });
      groups.get(name)?.ids.push(id);
    }
    $('#role-permissions').replaceChildren(
      ...[...groups].map(([name, group]) =>
        el(
          'fieldset',
          { class: 'settings-group permission-group' },
          el('legend', {}, t(name)),
          group.description ? el('p', { class: 'field-hint' }, t(group.description)) : null,
          ...group.ids.map((id) => {
            const p = all[id];
            const warning = p && Object.hasOwn(SAFETY_WORDS, p.safety_level) ? SAFETY_WORDS[p.safety_level]() : null;
            return el(
              'label',
              { class: 'check permission', dataset: { permission: id } },
              el('input', { type: 'checkbox', name: 'role-permission', value: id, checked: checked.has(id) }),
              el(
                'span',
                { class: 'check-text' },
                el('strong', {}, p ? t(p.name) : id, ' ', el('span', { class: 'setting-id' }, id)),
                p ? el('span', { class: 'field-hint' }, t(p.description)) : null,
                warning ? el('span', { class: 'field-hint permission-warning' }, p.alt_safety_text ? `${warning} ${t(p.alt_safety_text)}` : warning) : null,
              ),
            );
          }),
        ),
      ),
    );
  }

  async save() {
    const id = this.editing;
    const maxT2i = Number($('#role-max-t2i').value);
    const maxDepth = Number($('#role-max-depth').value);
    if ($('#role-max-t2i').value.trim() === '' || !Number.isInteger(maxT2i)) {
      showMessage(this.dialogMessage, t('{0} needs a whole number.', t('Generations at once')));
      $('#role-max-t2i').focus();
      return;
    }
    if ($('#role-max-depth').value.trim() === '' || !Number.isInteger(maxDepth)) {
      showMessage(this.dialogMessage, t('{0} needs a whole number.', t('Output folder depth')));
      $('#role-max-depth').focus();
      return;
    }
    await attempt($('#role-save'), this.dialogMessage, async () => {
      await call('AdminEditRole', {
        name: id,
        description: $('#role-description').value,
        max_outpath_depth: maxDepth,
        max_t2i_simultaneous: maxT2i,
        allow_unsafe_outpaths: $('#role-unsafe').checked,
        model_whitelist: $('#role-whitelist').value,
        model_blacklist: $('#role-blacklist').value,
        permissions: [...this.checkedPermissions()].join(','),
      });
      this.dialog.close();
      await this.load();
      showMessage(this.message, t('Role {0} saved. It applies at the next request of each of its users.', id), 'ok');
    });
  }

  async remove(button) {
    const id = this.editing;
    if (!confirm(t('Delete the role {0}? Every account that has it loses it.', id))) return;
    await attempt(button, this.dialogMessage, async () => {
      await call('AdminDeleteRole', { name: id });
      this.dialog.close();
      await this.load();
      showMessage(this.message, t('Role {0} deleted.', id), 'ok');
    });
  }
}
