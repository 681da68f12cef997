// What every page shares: the data block the server put in the page, small DOM helpers, messages, and the
// start-up that applies the theme and translations.
import { onLanguageChange, setTranslations, t } from './i18n.js';

let data = null;

/** The JSON block the server fills in for this page (theme, translations, settings the page shows). */
export function pageData() {
  if (data === null) {
    const block = document.getElementById('page-data');
    try {
      data = block ? JSON.parse(block.textContent) : {};
    } catch {
      data = {};
    }
  }
  return data;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** A path of this site (`css/x.css`, `/ViewSpecial/...`) as an absolute one; full URLs (`data:`, `https:`) are kept. */
export const siteUrl = (path) => (path.startsWith('/') || /^[a-z]+:/i.test(path) ? path : `/${path}`);

/** Creates an element: `el('button', { class: 'small', onclick: fn }, 'Text')`. Text children are never parsed as HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key in node && typeof value !== 'string') node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

let nextId = 0;
/** A unique id for pairing labels with generated fields. */
export const uid = (prefix = 'f') => `${prefix}-${++nextId}`;

/**
 * Message boxes showing a message, each with the function that words it again after a language switch (null for a
 * message given as finished text, which a switch clears: it was worded in the old language).
 * @type {Map<Element, null | (() => string | Array<Node | string>)>}
 */
const shownMessages = new Map();

/**
 * Shows a message in a message box (`kind`: error, ok or info); an empty text hides it. Give `text` as a function
 * (returning text or nodes) for a message that must stay on screen: it is worded again in each new language.
 * Text given as a string is cleared when the language changes.
 * @param {Element | null} box
 * @param {string | (() => string | Array<Node | string>)} text
 * @param {string} [kind]
 */
export function showMessage(box, text, kind = 'error') {
  if (!box) return;
  box.className = `message ${kind}`;
  const words = typeof text === 'function' ? text : null;
  const content = typeof text === 'function' ? text() : text;
  box.replaceChildren(...(Array.isArray(content) ? content : [content]));
  if (content === '') shownMessages.delete(box);
  else shownMessages.set(box, words);
}

/** @param {Element | null} box */
export function clearMessage(box) {
  if (!box) return;
  box.textContent = '';
  shownMessages.delete(box);
}

onLanguageChange(() => {
  for (const [box, words] of [...shownMessages]) {
    if (!box.isConnected || !words) clearMessage(box);
    else {
      const content = words();
      box.replaceChildren(...(Array.isArray(content) ? content : [content]));
    }
  }
});

/** Disables a button while `work` runs, so a click cannot be sent twice. */
export async function busy(button, work) {
  const was = button.disabled;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = was;
    button.removeAttribute('aria-busy');
  }
}

/** Like `busy`, and a failure's message is shown in the message box `box`. */
export function attempt(button, box, work) {
  return busy(button, async () => {
    try {
      await work();
    } catch (err) {
      showMessage(box, err.message);
    }
  });
}

export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** A unix-seconds time as the browser's local date and time. */
export function formatTime(seconds) {
  if (!Number.isFinite(seconds) || seconds <= 0) return t('unknown');
  return new Date(seconds * 1000).toLocaleString(document.documentElement.lang || undefined);
}

/** Applies translations and the instance title (the window title follows every language switch); call once at start-up. */
export function startPage(titleText) {
  const d = pageData();
  const instance = d.instance_title ? ` — ${d.instance_title}` : '';
  onLanguageChange(() => (document.title = `${t(titleText)}${instance}`));
  setTranslations(d.language || 'en', d.translations || {});
  for (const node of $$('[data-instance-title]')) node.textContent = d.instance_title || 'swarmcore';
}

/** Fills a language picker with the page data's languages, each named in itself (and in English where that differs). */
export function fillLanguageSelect(select, current) {
  const list = pageData().languages ?? [{ code: 'en', name: 'English', local_name: 'English' }];
  select.replaceChildren(...list.map((l) => el('option', { value: l.code, selected: l.code === current }, l.local_name === l.name ? l.name : `${l.local_name} (${l.name})`)));
}
