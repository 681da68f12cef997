// The user's page: settings, presets, password, API keys, login tokens, theme and language, the status bar,
// Logout, and the Server section for those whose permissions allow it. Every panel reads from and writes to the API; nothing is kept only in the browser except the
// theme and language cookies that let the next page open in the right look.
import { call, failedWith, newSession, onLoginLost, onNewSession } from './api.js';
import { languageCode, onLanguageChange, rememberLanguage, setTranslations, t } from './i18n.js';
import { $, busy, el, fillLanguageSelect, pageData, showMessage, startPage } from './page.js';
import { ServerSection } from './server/index.js';
import { applyTheme } from './theme.js';
import { ApiKeysPanel, TokensPanel, setUpPasswordForm } from './user/account.js';
import { PresetsPanel } from './user/presets.js';
import { SettingsEditor } from './user/settings-editor.js';
import { StatusBar } from './user/status.js';

startPage('Your account');
const data = pageData();
const pageMessage = $('#page-message');
const settings = new SettingsEditor();
const presets = new PresetsPanel();
const keys = new ApiKeysPanel();
const tokens = new TokensPanel();
const status = new StatusBar(pageMessage);
const server = new ServerSection();
let themes = {};
let userData = null;

/**
 * The login behind this page ended (a password reset by an administrator ends every login of the account): the
 * page says so in a dialog that leads to the login page. Every later call fails at once, so polling stops.
 */
function loginEnded() {
  const dialog = $('#login-ended-dialog');
  for (const open of document.querySelectorAll('dialog[open]')) if (open !== dialog) /** @type {HTMLDialogElement} */ (open).close();
  if (!dialog.open) dialog.showModal();
  $('#login-again').focus();
}
onLoginLost(loginEnded);
// Escape must not hide the dialog: nothing on the page works any more.
$('#login-ended-dialog').addEventListener('cancel', (event) => event.preventDefault());

/** Shows a failure that concerns the whole page; a lost login goes back to the login page. */
function pageFailure(err) {
  if (failedWith(err, 'not_logged_in')) {
    location.href = 'Login';
    return;
  }
  showMessage(pageMessage, err.message);
}

// ---- theme ----
function renderThemeSelect(current) {
  $('#theme-select').replaceChildren(...Object.entries(themes).map(([id, theme]) => el('option', { value: id, selected: id === current }, t(theme.name))));
}

$('#theme-select').addEventListener('change', async (event) => {
  const select = event.target;
  const id = select.value;
  const previous = document.documentElement.dataset.theme;
  applyTheme({ id, ...themes[id] });
  try {
    await call('ChangeUserSettings', { settings: { theme: id } });
    showMessage(pageMessage, t('Theme changed to {0}.', t(themes[id].name)), 'ok');
  } catch (err) {
    if (themes[previous]) applyTheme({ id: previous, ...themes[previous] });
    select.value = previous;
    pageFailure(err);
  }
});

// ---- language ----
async function switchLanguage(code) {
  const answer = await call('GetLanguage', { language: code });
  rememberLanguage(code);
  setTranslations(code, answer.language.keys);
}

$('#language-select').addEventListener('change', async (event) => {
  const select = event.target;
  const code = select.value;
  const previous = languageCode();
  try {
    await call('ChangeUserSettings', { settings: { language: code } });
    await switchLanguage(code);
    showMessage(pageMessage, t('Language changed.'), 'ok');
  } catch (err) {
    select.value = previous;
    pageFailure(err);
  }
});

// ---- logout ----
$('#logout-button').hidden = !data.can_logout;
$('#logout-button').addEventListener('click', async (event) => {
  await busy(event.currentTarget, async () => {
    try {
      await call('Logout');
      location.href = 'Login';
    } catch (err) {
      pageFailure(err);
    }
  });
});

// ---- sections: the navigation shows one section at a time, chosen by the address's #fragment ----
// `#server` and `#server-<part>` open the Server section (at that part) for users who may use it.
const SECTIONS = ['settings', 'presets', 'password', 'api-keys', 'tokens', 'server'];
function showSection(focus) {
  const wanted = location.hash.slice(1);
  const serverPart = wanted === 'server' ? '' : wanted.startsWith('server-') ? wanted.slice('server-'.length) : null;
  let id = serverPart !== null ? 'server' : SECTIONS.includes(wanted) ? wanted : 'settings';
  if (id === 'server' && !server.available()) id = 'settings';
  for (const name of SECTIONS) $(`#${name}`).hidden = name !== id;
  for (const link of document.querySelectorAll('.section-nav a')) {
    if (link.getAttribute('href') === `#${id}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (id === 'server') server.show(serverPart, focus);
  else if (focus) $(`#${id} h2`).focus();
  keepPillInView();
}

/** At phone width the section pills scroll sideways in one row: bring the current one into view. */
function keepPillInView() {
  const row = $('.section-nav ul');
  const pill = $('.section-nav a[aria-current="page"]');
  if (!row || !pill || row.scrollWidth <= row.clientWidth) return;
  const left = pill.getBoundingClientRect().left - row.getBoundingClientRect().left + row.scrollLeft;
  if (left < row.scrollLeft || left + pill.offsetWidth > row.scrollLeft + row.clientWidth) row.scrollLeft = left - (row.clientWidth - pill.offsetWidth) / 2;
}
window.addEventListener('hashchange', () => showSection(true));
showSection(false);

// ---- loading ----
async function loadUserData() {
  userData = await call('GetMyUserData');
  $('#user-name').textContent = userData.user_name;
  presets.show(userData.presets);
  return userData;
}

presets.onChange = () => loadUserData().catch(pageFailure);
setUpPasswordForm();

onNewSession((s) => {
  $('#user-name').textContent = s.user_id;
  server.update();
});

onLanguageChange(() => {
  settings.render();
  if (userData) presets.show(userData.presets);
  keys.render();
  tokens.render();
  status.render();
  server.render();
  renderThemeSelect(document.documentElement.dataset.theme);
});

async function start() {
  try {
    await newSession();
  } catch (err) {
    pageFailure(err);
    return;
  }
  status.start();
  // The session's permissions decide which Server parts exist; an address naming one opens it now.
  server.update();
  if (location.hash.startsWith('#server')) showSection(false);
  const [user, settingsAnswer] = await Promise.all([loadUserData(), settings.load()]);
  themes = settingsAnswer.themes;
  const themeId = settingsAnswer.settings.theme?.value;
  renderThemeSelect(themeId);
  // The account's theme wins over the cookie the page opened with; applying it also refreshes the cookie.
  if (themeId && themes[themeId]) applyTheme({ id: themeId, ...themes[themeId] });
  fillLanguageSelect($('#language-select'), user.language);
  if (user.language && user.language !== languageCode()) await switchLanguage(user.language);
  else rememberLanguage(languageCode());
  await Promise.all([keys.load(), tokens.load()]);
}

start().catch(pageFailure);
