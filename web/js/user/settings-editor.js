// The user-settings editor, built from GetUserSettings: one field per setting, groups as fieldsets (a block's own
// settings before its sub-groups), descriptions under each field, and only changed settings sent to
// ChangeUserSettings under their dotted ids.
import { call } from '../api.js';
import { t } from '../i18n.js';
import { $, attempt, clearMessage, el, showMessage, uid } from '../page.js';
import { safeHtml } from '../safe-html.js';

/** Settings with their own control elsewhere on the page. */
const SKIP = new Set(['theme', 'language']);

/** Display names where splitting the field name would read badly. */
const NAMES = {
  OutPathBuilder: 'Output Path Builder',
  MaxLenPerPart: 'Max Length Per Part',
  ParamParsing: 'Parameter Parsing',
  VAEs: 'VAEs',
};

/** `MaxPromptLines` → `Max Prompt Lines`; `DefaultSDXLVAE` → `Default SDXL VAE`. */
export function settingLabel(name) {
  if (Object.hasOwn(NAMES, name)) return NAMES[name];
  const vae = /^Default(.+)VAE$/.exec(name);
  if (vae) return `Default ${vae[1]} VAE`;
  return name.replace(/(?<=[a-z0-9])(?=[A-Z])/g, ' ').replace(/(?<=[A-Z])(?=[A-Z][a-z])/g, ' ');
}

export class SettingsEditor {
  constructor() {
    this.tree = null;
    /** dotted id → { meta, input } */
    this.fields = new Map();
    /** Groups the person opened, kept open when the editor is redrawn. */
    this.openGroups = new Set();
    this.form = $('#settings-form');
    this.container = $('#settings-fields');
    this.message = $('#settings-message');
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.save();
    });
    this.form.addEventListener('input', () => this.markChanges());
    this.form.addEventListener('change', () => this.markChanges());
    $('#settings-reset').addEventListener('click', () => {
      this.render();
      clearMessage(this.message);
    });
  }

  /** Loads the settings from the server and draws the editor; returns the whole GetUserSettings answer. */
  async load() {
    const answer = await call('GetUserSettings');
    this.tree = answer.settings;
    this.render();
    return answer;
  }

  render() {
    if (!this.tree) return;
    this.fields.clear();
    this.container.replaceChildren(...this.renderBlock(this.tree, ''));
    this.markChanges();
  }

  renderBlock(block, prefix) {
    const leaves = [];
    const groups = [];
    for (const [key, meta] of Object.entries(block)) {
      const id = prefix + key;
      if (meta.type === 'group') groups.push(this.renderGroup(id, meta));
      else if (!SKIP.has(id)) leaves.push(this.renderLeaf(id, meta));
    }
    return [...leaves, ...groups];
  }

  /** A group is a collapsible block (closed at first, so the page stays short) holding a fieldset. */
  renderGroup(id, meta) {
    const name = t(settingLabel(meta.name));
    const description = meta.description ? el('p', { class: 'field-hint' }, safeHtml(t(meta.description))) : null;
    const open = this.openGroups.has(id);
    const details = el(
      'details',
      { class: 'settings-group', open, dataset: { settingGroup: id } },
      el('summary', {}, name),
      description,
      el('fieldset', {}, el('legend', { class: 'visually-hidden' }, name), ...this.renderBlock(meta.value, `${id}.`)),
    );
    details.addEventListener('toggle', () => (details.open ? this.openGroups.add(id) : this.openGroups.delete(id)));
    return details;
  }

  renderLeaf(id, meta) {
    const inputId = uid('setting');
    const hintId = `${inputId}-hint`;
    const label = t(settingLabel(meta.name));
    const hint = meta.description ? el('p', { class: 'field-hint', id: hintId }, safeHtml(t(meta.description))) : null;
    const common = { id: inputId, name: id, 'aria-describedby': hint ? hintId : undefined, dataset: { settingId: id } };
    let input;
    let wrapper;
    switch (meta.type) {
      case 'boolean':
        input = el('input', { ...common, type: 'checkbox', checked: meta.value === true });
        wrapper = el('div', { class: 'field' }, el('label', { class: 'check', for: inputId }, input, el('span', { class: 'check-text' }, el('strong', {}, label))), hint);
        break;
      case 'dropdown': {
        const names = meta.value_names ?? meta.values ?? [];
        const values = [...(meta.values ?? [])];
        if (!values.includes(String(meta.value))) values.unshift(String(meta.value));
        input = el(
          'select',
          common,
          values.map((v) => {
            const i = (meta.values ?? []).indexOf(v);
            const shown = i >= 0 && names[i] !== undefined ? names[i] : v;
            return el('option', { value: v, selected: v === String(meta.value) }, shown === '' ? t('None') : t(shown));
          }),
        );
        break;
      }
      case 'integer':
        input = el('input', { ...common, type: 'number', step: '1', inputmode: 'numeric', value: String(meta.value) });
        break;
      case 'decimal':
        input = el('input', { ...common, type: 'number', step: 'any', inputmode: 'decimal', value: String(meta.value) });
        break;
      case 'list':
        input = el('input', { ...common, type: 'text', value: String(meta.value ?? '').split(' || ').filter(Boolean).join(', ') });
        break;
      default:
        input = el('input', { ...common, type: 'text', value: String(meta.value ?? '') });
    }
    wrapper ??= el('div', { class: 'field' }, el('label', { for: inputId }, label, ' ', el('span', { class: 'setting-id', 'aria-hidden': 'true' }, id)), input, hint);
    wrapper.dataset.settingField = id;
    this.fields.set(id, { meta, input, wrapper, original: this.valueOf(meta, input) });
    return wrapper;
  }

  /** The value to send for a field, in the setting's type; undefined when the text is not valid for it. */
  valueOf(meta, input) {
    switch (meta.type) {
      case 'boolean':
        return input.checked;
      case 'integer': {
        const n = Number(input.value);
        return input.value.trim() !== '' && Number.isInteger(n) ? n : undefined;
      }
      case 'decimal': {
        const n = Number(input.value);
        return input.value.trim() !== '' && Number.isFinite(n) ? n : undefined;
      }
      case 'list':
        return input.value.split(',').map((s) => s.trim()).filter(Boolean);
      default:
        return input.value;
    }
  }

  changes() {
    const out = {};
    const invalid = [];
    for (const [id, f] of this.fields) {
      const value = this.valueOf(f.meta, f.input);
      if (value === undefined) {
        invalid.push(f);
        continue;
      }
      if (JSON.stringify(value) !== JSON.stringify(f.original)) out[id] = value;
    }
    return { changes: out, invalid };
  }

  markChanges() {
    const { changes } = this.changes();
    for (const [id, f] of this.fields) f.wrapper.classList.toggle('setting-changed', id in changes);
    $('#settings-dirty').hidden = Object.keys(changes).length === 0;
  }

  async save() {
    const { changes, invalid } = this.changes();
    if (invalid.length > 0) {
      showMessage(this.message, t('{0} needs a number.', t(settingLabel(invalid[0].meta.name))));
      invalid[0].input.focus();
      return;
    }
    if (Object.keys(changes).length === 0) {
      showMessage(this.message, t('Nothing to save: no setting was changed.'), 'info');
      return;
    }
    await attempt($('#settings-save'), this.message, async () => {
      await call('ChangeUserSettings', { settings: changes });
      await this.load();
      showMessage(this.message, t('Settings saved.'), 'ok');
    });
  }
}
