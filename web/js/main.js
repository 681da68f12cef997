// The user's page: settings, presets, password, API keys, login tokens, theme and language, the status bar
// and Logout. Every panel reads from and writes to the API; nothing is kept only in the browser except the
// theme and language cookies that let the next page open in the right look.
import { call, failedWith, newSession, onNewSession } from './api.js';
import { languageCode, onLanguageChange, rememberLanguage, setTranslations, t } from './i18n.js';
import { $, busy, el, fillLanguageSelect, pageData, showMessage, startPage } from './page.js';
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
let themes = {};
let userData = null;

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
const SECTIONS = ['settings', 'presets', 'password', 'api-keys', 'tokens'];
function showSection(focus) {
  const wanted = location.hash.slice(1);
  const id = SECTIONS.includes(wanted) ? wanted : 'settings';
  for (const name of SECTIONS) $(`#${name}`).hidden = name !== id;
  for (const link of document.querySelectorAll('.section-nav a')) {
    if (link.getAttribute('href') === `#${id}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (focus) $(`#${id} h2`).focus();
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
});

onLanguageChange(() => {
  settings.render();
  if (userData) presets.show(userData.presets);
  keys.render();
  tokens.render();
  status.render();
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
