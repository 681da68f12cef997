// Server section, Server Settings: every setting ListServerSettings lists, grouped as it groups them, each with its
// description, its default, an input that fits its type (number limits from the page data's setting_rules) and a
// note where a change needs a restart. Only changed settings are sent, in one ChangeServerSettings call, which
// applies all of them or none; its refusal is shown in its words beside the Save button.
import { call } from '../api.js';
import { t } from '../i18n.js';
import { $, attempt, clearMessage, el, pageData, showMessage, uid } from '../page.js';
import { safeHtml } from '../safe-html.js';
import { settingLabel } from '../user/settings-editor.js';
import { hasPermission } from './access.js';

/** What ListServerSettings shows instead of a secret's value; sent back, it leaves the secret unchanged. */
const SECRET_SHOWN = '\t<secret>';

/** A value as the person reads it (lists as `a, b`, the empty text as "(empty)"). */
function shownValue(meta, value) {
  if (meta.type === 'boolean') return value ? t('on') : t('off');
  if (meta.type === 'list') return String(value ?? '').split(' || ').filter(Boolean).join(', ') || t('(empty)');
  return value === '' || value === null || value === undefined ? t('(empty)') : String(value);
}

export class ServerSettingsPanel {
  constructor() {
    this.tree = null;
    /** @type {string | null} the JSON of the tree last drawn */
    this.treeText = null;
    /** dotted id → { meta, input, wrapper, original, rule } */
    this.fields = new Map();
    this.form = $('#server-settings-form');
    this.container = $('#server-settings-fields');
    this.message = $('#server-settings-message');
    /** @type {Record<string, { min?: number, max?: number, restart?: boolean }>} */
    this.rules = pageData().setting_rules ?? {};
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.save();
    });
    this.form.addEventListener('input', () => this.markChanges());
    this.form.addEventListener('change', () => this.markChanges());
    $('#server-settings-reset').addEventListener('click', () => {
      this.render();
      clearMessage(this.message);
    });
  }

  get canEdit() {
    return hasPermission('edit_server_settings');
  }

  async load() {
    const tree = (await call('ListServerSettings')).settings;
    // Opening the part again while nothing changed keeps the form as it is (and any edits not yet saved).
    const text = JSON.stringify(tree);
    if (text === this.treeText) return;
    this.treeText = text;
    this.tree = tree;
    this.render();
  }

  render() {
    if (!this.tree) return;
    const editable = this.canEdit;
    $('#server-settings-readonly').hidden = editable;
    $('#server-settings-actions').hidden = !editable;
    this.fields.clear();
    this.container.replaceChildren(...this.renderBlock(this.tree, '', editable));
    this.markChanges();
  }

  renderBlock(block, prefix, editable) {
    const leaves = [];
    const groups = [];
    for (const [key, meta] of Object.entries(block)) {
      const id = prefix + key;
      if (meta.type === 'group') {
        const name = t(settingLabel(meta.name));
        groups.push(el('fieldset', { class: 'settings-group', dataset: { serverSettingGroup: id } }, el('legend', {}, name), meta.description ? el('p', { class: 'field-hint' }, t(meta.description)) : null, ...this.renderBlock(meta.value, `${id}.`, editable)));
      } else {
        leaves.push(this.renderLeaf(id, meta, editable));
      }
    }
    return [...leaves, ...groups];
  }

  renderLeaf(id, meta, editable) {
    const inputId = uid('server-setting');
    const hintId = `${inputId}-hint`;
    const label = t(settingLabel(meta.name));
    const rule = this.rules[id] ?? {};
    const notes = [];
    if (rule.min !== undefined && rule.max !== undefined) notes.push(t('From {0} to {1}.', rule.min, rule.max));
    if (!meta.is_secret && 'default_value' in meta) notes.push(t('Default: {0}.', shownValue(meta, meta.default_value).replace(/\.$/, '')));
    if (meta.type === 'list') notes.push(t('Separate entries with commas.'));
    if (meta.is_secret) notes.push(t('The value is hidden. Leave the field empty to keep it; type a new value to replace it.'));
    const hint = el(
      'p',
      { class: 'field-hint', id: hintId },
      meta.description ? safeHtml(t(meta.description)) : null,
      notes.length > 0 ? ` ${notes.join(' ')}` : null,
      rule.restart ? el('strong', { class: 'restart-note' }, ` ${t('Takes effect after the server restarts.')}`) : null,
    );
    const common = { id: inputId, name: id, disabled: !editable, 'aria-describedby': hintId, dataset: { serverSettingId: id } };
    let input;
    let wrapper;
    switch (meta.type) {
      case 'boolean':
        input = el('input', { ...common, type: 'checkbox', checked: meta.value === true });
        wrapper = el('div', { class: 'field' }, el('label', { class: 'check', for: inputId }, input, el('span', { class: 'check-text' }, el('strong', {}, label, ' ', el('span', { class: 'setting-id', 'aria-hidden': 'true' }, id)))), hint);
        break;
      case 'dropdown': {
        const values = [...(meta.values ?? [])];
        const names = meta.value_names ?? values;
        if (!values.includes(String(meta.value))) values.unshift(String(meta.value));
        input = el(
          'select',
          common,
          values.map((v) => {
            const i = (meta.values ?? []).indexOf(v);
            const shown = i >= 0 && names[i] !== undefined ? names[i] : v;
            return el('option', { value: v, selected: v === String(meta.value) }, shown === '' ? t('(empty)') : shown);
          }),
        );
        break;
      }
      case 'integer':
      case 'decimal':
        input = el('input', { ...common, type: 'number', step: meta.type === 'integer' ? '1' : 'any', inputmode: meta.type === 'integer' ? 'numeric' : 'decimal', min: rule.min, max: rule.max, value: String(meta.value) });
        break;
      case 'list':
        input = el('input', { ...common, type: 'text', value: String(meta.value ?? '').split(' || ').filter(Boolean).join(', ') });
        break;
      default:
        input = meta.is_secret
          ? el('input', { ...common, type: 'password', autocomplete: 'off', value: '' })
          : el('input', { ...common, type: 'text', value: String(meta.value ?? '') });
    }
    wrapper ??= el('div', { class: 'field' }, el('label', { for: inputId }, label, ' ', el('span', { class: 'setting-id', 'aria-hidden': 'true' }, id)), input, hint);
    wrapper.dataset.serverSettingField = id;
    this.fields.set(id, { meta, input, wrapper, rule, original: this.valueOf(meta, input) });
    return wrapper;
  }

  /** The value to send, in the setting's type; undefined when the text is not a number a number setting needs. */
  valueOf(meta, input) {
    switch (meta.type) {
      case 'boolean':
        return input.checked;
      case 'integer':
      case 'decimal': {
        const n = Number(input.value);
        const ok = input.value.trim() !== '' && (meta.type === 'integer' ? Number.isInteger(n) : Number.isFinite(n));
        return ok ? n : undefined;
      }
      case 'list':
        return input.value.split(',').map((s) => s.trim()).filter(Boolean);
      default:
        return meta.is_secret && input.value === '' ? SECRET_SHOWN : input.value;
    }
  }

  /** The changed settings, and the first field whose text cannot be sent (with what is wrong). */
  changes() {
    /** @type {Record<string, unknown>} */
    const out = {};
    /** @type {{ field: any, text: string } | null} */
    let problem = null;
    for (const [id, f] of this.fields) {
      const value = this.valueOf(f.meta, f.input);
      const label = t(settingLabel(f.meta.name));
      if (value === undefined) {
        problem ??= { field: f, text: f.meta.type === 'integer' ? t('{0} needs a whole number.', label) : t('{0} needs a number.', label) };
        continue;
      }
      if (typeof value === 'number' && ((f.rule.min !== undefined && value < f.rule.min) || (f.rule.max !== undefined && value > f.rule.max))) {
        problem ??= { field: f, text: t('{0} must be from {1} to {2}.', label, f.rule.min ?? '…', f.rule.max ?? '…') };
      }
      if (JSON.stringify(value) !== JSON.stringify(f.original)) out[id] = value;
    }
    return { changes: out, problem };
  }

  markChanges() {
    const { changes } = this.changes();
    for (const [id, f] of this.fields) f.wrapper.classList.toggle('setting-changed', id in changes);
    $('#server-settings-dirty').hidden = Object.keys(changes).length === 0;
  }

  async save() {
    const { changes, problem } = this.changes();
    if (problem) {
      showMessage(this.message, problem.text);
      problem.field.input.focus();
      return;
    }
    const keys = Object.keys(changes);
    if (keys.length === 0) {
      showMessage(this.message, t('Nothing to save: no setting was changed.'), 'info');
      return;
    }
    const restart = keys.filter((k) => this.fields.get(k)?.rule.restart).map((k) => t(settingLabel(this.fields.get(k)?.meta.name ?? k)));
    await attempt($('#server-settings-save'), this.message, async () => {
      await call('ChangeServerSettings', { settings: changes });
      await this.load();
      const saved = t('Server settings saved.');
      showMessage(this.message, restart.length > 0 ? `${saved} ${t('Restart the server for these to take effect: {0}.', restart.join(', '))}` : saved, 'ok');
    });
  }
}
