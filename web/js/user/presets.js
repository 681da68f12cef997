// Presets: the list from GetMyUserData with previews, and add / edit (AddNewPreset), duplicate, delete and
// export (ExportUserPresets, saved as a JSON file).
import { call } from '../api.js';
import { t } from '../i18n.js';
import { $, $$, attempt, clearMessage, el, showMessage, siteUrl, uid } from '../page.js';

const PLACEHOLDER = 'imgs/model_placeholder.jpg';
const MAX_PREVIEW_SIDE = 512;

/** Reads an image file into a JPEG data URL no larger than MAX_PREVIEW_SIDE (the server makes the thumbnail). */
function imageFileToJpeg(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => {
      const scale = Math.min(1, MAX_PREVIEW_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
      const canvas = document.createElement('canvas');
      canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
      canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
      /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d')).drawImage(img, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(url);
      resolve(canvas.toDataURL('image/jpeg', 0.9));
    };
    img.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error(t('That file is not an image this browser can read.')));
    };
    img.src = url;
  });
}

function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = el('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export class PresetsPanel {
  constructor() {
    this.presets = [];
    this.list = $('#preset-list');
    this.message = $('#presets-message');
    this.dialog = $('#preset-dialog');
    this.dialogMessage = $('#preset-dialog-message');
    /** Title of the preset being edited; null when adding. */
    this.editing = null;
    /** What to send as preview_image: the kept URL, a new data URL, or the placeholder. */
    this.previewValue = PLACEHOLDER;
    this.opener = null;

    $('#preset-add').addEventListener('click', (e) => this.openEditor(null, e.currentTarget));
    $('#preset-export-all').addEventListener('click', (e) => this.exportPresets(null, e.currentTarget));
    $('#preset-export-selected').addEventListener('click', (e) => {
      const titles = $$('input[name="preset-select"]', this.list).filter((i) => i.checked).map((i) => i.value);
      if (titles.length === 0) {
        showMessage(this.message, t('Tick the presets to export first.'), 'info');
        return;
      }
      void this.exportPresets(titles, e.currentTarget);
    });
    $('#param-add').addEventListener('click', () => {
      const row = this.paramRow('', '');
      $('#param-rows').append(row);
      row.querySelector('input').focus();
    });
    $('#preset-image').addEventListener('change', async (event) => {
      const file = event.target.files[0];
      if (!file) return;
      try {
        this.previewValue = await imageFileToJpeg(file);
        $('#preset-preview').src = this.previewValue;
        clearMessage(this.dialogMessage);
      } catch (err) {
        showMessage(this.dialogMessage, err.message);
      }
    });
    $('#preset-image-clear').addEventListener('click', () => {
      this.previewValue = PLACEHOLDER;
      $('#preset-preview').src = siteUrl(PLACEHOLDER);
      $('#preset-image').value = '';
    });
    $('#preset-cancel').addEventListener('click', () => this.dialog.close());
    this.dialog.addEventListener('close', () => this.opener?.focus());
    $('#preset-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.saveEditor();
    });
  }

  /** Draws the list from GetMyUserData's `presets`. */
  show(presets) {
    this.presets = presets;
    if (presets.length === 0) {
      this.list.replaceChildren(el('li', { class: 'muted' }, t('No presets yet.')));
      return;
    }
    this.list.replaceChildren(...presets.map((p) => this.item(p)));
  }

  item(preset) {
    const selectId = uid('preset-select');
    const params = Object.entries(preset.param_map ?? {}).map(([k, v]) => `${k}: ${v}`).join('\n');
    return el(
      'li',
      { class: 'preset-item', dataset: { presetTitle: preset.title } },
      el('img', { src: siteUrl(preset.preview_image), alt: t('Preview of {0}', preset.title), loading: 'lazy', width: 256, height: 256 }),
      el('div', { class: 'preset-title' }, preset.is_starred ? el('span', { class: 'star', title: t('Starred') }, '★ ') : null, preset.title),
      preset.description ? el('div', { class: 'preset-desc' }, preset.description) : null,
      params ? el('pre', { class: 'preset-params' }, params) : null,
      el('label', { class: 'check preset-select', for: selectId }, el('input', { type: 'checkbox', id: selectId, name: 'preset-select', value: preset.title }), el('span', {}, t('Select for export'))),
      el(
        'div',
        { class: 'actions' },
        el('button', { type: 'button', class: 'small', 'aria-label': t('Edit {0}', preset.title), onclick: (e) => this.openEditor(preset, e.currentTarget) }, t('Edit')),
        el('button', { type: 'button', class: 'small', 'aria-label': t('Duplicate {0}', preset.title), onclick: (e) => this.duplicate(preset, e.currentTarget) }, t('Duplicate')),
        el('button', { type: 'button', class: 'small danger', 'aria-label': t('Delete {0}', preset.title), onclick: (e) => this.remove(preset, e.currentTarget) }, t('Delete')),
      ),
    );
  }

  paramRow(name, value) {
    const nameId = uid('param-name');
    const valueId = uid('param-value');
    const row = el(
      'div',
      { class: 'param-row' },
      el('div', {}, el('label', { for: nameId }, t('Parameter')), el('input', { type: 'text', id: nameId, class: 'param-name', value: name, spellcheck: 'false' })),
      el('div', {}, el('label', { for: valueId }, t('Value')), el('input', { type: 'text', id: valueId, class: 'param-value', value })),
      el('button', { type: 'button', class: 'small', onclick: () => row.remove() }, t('Delete')),
    );
    return row;
  }

  openEditor(preset, opener) {
    this.opener = opener;
    this.editing = preset ? preset.title : null;
    $('#preset-dialog-heading').textContent = preset ? t('Edit Preset') : t('Add Preset');
    $('#preset-title').value = preset?.title ?? '';
    $('#preset-description').value = preset?.description ?? '';
    $('#preset-starred').checked = Boolean(preset?.is_starred);
    $('#preset-image').value = '';
    const image = preset?.preview_image ?? PLACEHOLDER;
    // An unchanged /ViewSpecial/ image is sent back as is, which the server reads as "keep the current image".
    this.previewValue = image;
    $('#preset-preview').src = siteUrl(image);
    /** @type {Array<[string, string]>} */
    const entries = Object.entries(preset?.param_map ?? {});
    $('#param-rows').replaceChildren(...(entries.length > 0 ? entries : [['', '']]).map(([k, v]) => this.paramRow(k, v)));
    clearMessage(this.dialogMessage);
    this.dialog.showModal();
    $('#preset-title').focus();
  }

  async saveEditor() {
    const title = $('#preset-title').value.trim();
    if (title === '') {
      showMessage(this.dialogMessage, t('Invalid or empty title.'));
      $('#preset-title').focus();
      return;
    }
    const paramMap = {};
    for (const row of $$('.param-row', $('#param-rows'))) {
      const name = row.querySelector('.param-name').value.trim();
      if (name !== '') paramMap[name] = row.querySelector('.param-value').value;
    }
    const body = {
      title,
      description: $('#preset-description').value,
      param_map: paramMap,
      preview_image: this.previewValue,
      is_starred: $('#preset-starred').checked,
      is_edit: this.editing !== null,
    };
    if (this.editing !== null) body.editing = this.editing;
    await attempt($('#preset-save'), this.dialogMessage, async () => {
      await call('AddNewPreset', body);
      this.dialog.close();
      showMessage(this.message, t('Preset "{0}" saved.', title), 'ok');
      await this.onChange();
    });
  }

  async duplicate(preset, button) {
    await attempt(button, this.message, async () => {
      await call('DuplicatePreset', { preset: preset.title });
      showMessage(this.message, t('Preset "{0}" duplicated.', preset.title), 'ok');
      await this.onChange();
    });
  }

  async remove(preset, button) {
    if (!confirm(`${t('Delete this preset?')}\n\n${preset.title}`)) return;
    await attempt(button, this.message, async () => {
      const answer = await call('DeletePreset', { preset: preset.title });
      if (answer.success === false) showMessage(this.message, t('No such preset.'));
      else showMessage(this.message, t('Preset "{0}" deleted.', preset.title), 'ok');
      await this.onChange();
      $('#preset-add').focus();
    });
  }

  async exportPresets(titles, button) {
    await attempt(button, this.message, async () => {
      const answer = await call('ExportUserPresets', titles ? { titles } : {});
      download('presets.json', `${JSON.stringify(answer.presets, null, 2)}\n`);
      showMessage(this.message, t('{0} presets exported.', answer.presets.length), 'ok');
    });
  }

  /** Replaced by the page: reloads the user data after a change. */
  async onChange() {}
}
