// The first-run installer: a step-by-step form whose choices go to InstallConfirmWS over a WebSocket, with the
// server's info and progress messages shown as they arrive.
import { call, describeFailure, failedWith, newSession, openSocket } from './api.js';
import { onLanguageChange, rememberLanguage, setTranslations, t } from './i18n.js';
import { $, $$, clearMessage, el, fillLanguageSelect, formatBytes, pageData, showMessage, startPage } from './page.js';
import { applyTheme } from './theme.js';

startPage('Install');
const data = pageData();
const themes = data.themes ?? [];
const models = data.models ?? [];
const steps = $$('[data-step]');
let current = 'license';
let chosenLanguage = data.language || 'en';
let installing = false;

// ---- steps ----
function renderStepList() {
  const list = $('#step-list');
  list.replaceChildren(
    ...steps.map((s) => el('li', { 'aria-current': s.dataset.step === current ? 'step' : undefined }, t(s.dataset.stepName))),
  );
}

function showStep(step) {
  current = step;
  for (const s of steps) s.hidden = s.dataset.step !== step;
  if (step === 'end') renderSummary();
  renderStepList();
}

/** Moves to a step and puts keyboard focus on its heading, so the next Tab continues inside it. */
function go(step) {
  showStep(step);
  $(`[data-step="${step}"] h1`)?.focus();
}

for (const button of $$('[data-go]')) button.addEventListener('click', () => go(button.dataset.go));
let cameFromShortcut = false;
$('[data-step="start"] [data-go="end"]').addEventListener('click', () => (cameFromShortcut = true), { capture: true });
$('[data-step="models"] [data-go="end"]').addEventListener('click', () => (cameFromShortcut = false), { capture: true });
$('#back-from-end').addEventListener('click', () => go(cameFromShortcut ? 'start' : 'models'));

// ---- theme choices, previewed live on this page ----
function renderThemes() {
  const box = $('#theme-choices');
  const checked = $('input[name="theme"]:checked')?.value ?? data.default_theme;
  box.replaceChildren(
    el('legend', {}, t('Default theme')),
    ...themes.map((theme) =>
      el(
        'label',
        { class: 'choice check' },
        el('input', { type: 'radio', name: 'theme', value: theme.id, checked: theme.id === checked, onchange: () => applyTheme(theme, false) }),
        el('span', { class: 'check-text' }, el('strong', {}, t(theme.name)), el('span', {}, theme.is_dark ? t('Dark') : t('Light'))),
      ),
    ),
  );
}

// ---- model choices ----
function renderModels() {
  const box = $('#model-choices');
  const inputs = $$('input[name="model"]');
  const checked = new Set(inputs.filter((i) => i.checked).map((i) => i.value));
  const first = inputs.length === 0;
  box.replaceChildren(
    el('legend', {}, t('Models to download')),
    ...models.map((m) =>
      el(
        'label',
        { class: 'choice check' },
        el('input', { type: 'checkbox', name: 'model', value: m.id, checked: first ? m.default : checked.has(m.id) }),
        el('span', { class: 'check-text' }, el('strong', {}, m.name), el('span', {}, m.description ? t(m.description) : ''), m.size ? el('span', { class: 'muted' }, ` (${formatBytes(m.size)})`) : null),
      ),
    ),
  );
  if (models.length === 0) box.append(el('p', { class: 'muted' }, t('No models are offered for download.')));
  if (data.models_error) {
    $('#models-error').hidden = false;
    $('#models-error').textContent = t('The model list could not be read: {0}', data.models_error);
  }
}

// ---- language ----
$('#language').addEventListener('change', async (event) => {
  const code = event.target.value;
  try {
    const answer = await call('GetLanguage', { language: code });
    chosenLanguage = code;
    rememberLanguage(code);
    setTranslations(code, answer.language.keys);
  } catch (err) {
    showMessage($('#session-message'), t('The language could not be loaded: {0}', err.message));
    event.target.value = chosenLanguage;
  }
});

// ---- summary and install ----
function choices() {
  const picked = $$('input[name="model"]').filter((i) => i.checked).map((i) => i.value);
  return {
    theme: $('input[name="theme"]:checked')?.value ?? data.default_theme,
    installed_for: $('input[name="installed_for"]:checked').value,
    backend: $('input[name="backend"]:checked').value,
    models: picked.length === 0 ? 'none' : picked.join(', '),
    install_amd: $('#install-amd').checked,
    language: chosenLanguage,
    make_shortcut: false,
  };
}

function renderSummary() {
  const c = choices();
  const themeName = themes.find((x) => x.id === c.theme)?.name ?? c.theme;
  const who = { just_self: t('Just Yourself'), just_self_lan: t('Just Yourself (LAN)') }[c.installed_for];
  const modelNames = c.models === 'none' ? t('None') : c.models.split(', ').map((id) => models.find((m) => m.id === id)?.name ?? id).join(', ');
  const language = (data.languages ?? []).find((l) => l.code === c.language);
  const rows = [
    [t('Theme'), t(themeName)],
    [t('Who is this server for?'), who],
    [t('Backend'), c.backend === 'comfyui' ? 'ComfyUI' : t('None')],
    [t('Use AMD GPU support'), c.install_amd ? t('Yes') : t('No')],
    [t('Models to download'), modelNames],
    [t('Language'), language ? language.local_name : c.language],
  ];
  $('#summary').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

const log = $('#install-log');
function addLog(text) {
  log.append(`${text}\n`);
  log.scrollTop = log.scrollHeight;
}

function onInstallMessage(message, state) {
  if (typeof message.info === 'string') addLog(t(message.info));
  if (typeof message.progress === 'number') {
    if (message.progress === 0) {
      $('#step-text').textContent = t('Step {0} of {1}', message.steps, message.total_steps);
      $('#step-bar').value = message.total_steps > 0 ? message.steps / message.total_steps : 0;
      $('#download').hidden = true;
    } else {
      const total = message.total || 0;
      const percent = total > 0 ? Math.floor((message.progress / total) * 100) : 0;
      $('#download').hidden = false;
      $('#download-bar').value = total > 0 ? message.progress / total : 0;
      $('#download-text').textContent = t('Downloaded {0} of {1} ({2}%), {3} per second', formatBytes(message.progress), total > 0 ? formatBytes(total) : t('unknown'), percent, formatBytes(message.per_second || 0));
    }
  }
  if (message.success === true) {
    state.done = true;
    if (Array.isArray(message.missing_models)) state.missing = message.missing_models;
  }
  if (typeof message.error === 'string' || message.error_id) state.error = message;
}

/** The words for an installation that finished without some models, each named with the reason it failed. */
function missingReport(missing) {
  const list = el('ul', { class: 'missing-models' }, ...missing.map((m) => el('li', {}, el('strong', {}, String(m.name ?? m.id)), m.error ? `: ${m.error}` : '')));
  return [
    el('p', {}, t('The server is installed, but these models could not be downloaded:')),
    list,
    el('p', {}, t('The server works without them. The log below says more; you can put the files into the Models folder of the data directory yourself later.')),
  ];
}

$('#install-button').addEventListener('click', async () => {
  if (installing) return;
  installing = true;
  const button = $('#install-button');
  button.disabled = true;
  $('#back-from-end').disabled = true;
  clearMessage($('#install-message'));
  log.replaceChildren();
  $('#install-progress').hidden = false;
  const state = { done: false, error: null, missing: [] };
  try {
    await openSocket('InstallConfirmWS', choices(), (m) => onInstallMessage(m, state));
    if (state.done && state.missing.length > 0) {
      // Installed, but without some models: the report stays until the person chooses to go on.
      showMessage($('#install-message'), () => missingReport(state.missing), 'error');
      $('#install-continue').hidden = false;
      $('#install-continue').focus();
      return;
    }
    if (state.done) {
      showMessage($('#install-message'), t('Installed!'), 'ok');
      location.href = 'Text2Image';
      return;
    }
    showMessage($('#install-message'), state.error ? describeFailure(state.error) : t('The connection to the server ended before the installation finished. Reload the page and try again.'));
  } catch (err) {
    showMessage($('#install-message'), err.message);
  }
  installing = false;
  button.disabled = false;
  $('#back-from-end').disabled = false;
});

$('#install-continue').addEventListener('click', () => {
  location.href = 'Text2Image';
});

// ---- start ----
renderThemes();
renderModels();
fillLanguageSelect($('#language'), chosenLanguage);
showStep('license');
onLanguageChange(() => {
  renderThemes();
  renderModels();
  renderStepList();
  if (current === 'end') renderSummary();
});

newSession().then(
  (s) => {
    const perms = s.permissions ?? [];
    if (!perms.includes('*') && !perms.includes('install')) {
      showMessage($('#session-message'), () => t('Only the server owner can run the installer. Log in as the owner, or open this page on the server computer itself.'));
      $('#install-button').disabled = true;
    }
  },
  (err) => {
    const box = $('#session-message');
    if (failedWith(err, 'not_logged_in')) {
      showMessage(box, () => [t('Log in as the server owner to run the installer.'), ' ', el('a', { href: 'Login' }, t('Log In'))]);
    } else {
      showMessage(box, err.message);
    }
    $('#install-button').disabled = true;
  },
);
