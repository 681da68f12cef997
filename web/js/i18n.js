// Translation of the UI. Every text is written in English, in the markup or as the argument of t(); the English
// text is the key into the language's `keys` (languages/<code>.json, fetched by GetLanguage). An empty or
// missing translation shows the English.
let translations = {};
let currentCode = 'en';
/** English source of every translated element text and attribute, so a language can be switched again. */
const sources = new WeakMap();
const listeners = [];

/** Translates `text`; `{0}`, `{1}`... are replaced by the extra arguments (after translation). */
export function t(text, ...args) {
  let out = translations[text] || text;
  args.forEach((arg, i) => {
    out = out.split(`{${i}}`).join(String(arg));
  });
  return out;
}

export function languageCode() {
  return currentCode;
}

export function setTranslations(code, keys) {
  currentCode = code;
  translations = keys && typeof keys === 'object' ? keys : {};
  document.documentElement.lang = code;
  translatePage(document);
  for (const fn of listeners) fn(code);
}

/** Runs `fn` after every language switch (for texts built by scripts). */
export function onLanguageChange(fn) {
  listeners.push(fn);
}

/**
 * Translates marked elements under `root`: `data-t` translates the text, `data-t-attr="placeholder aria-label"`
 * translates those attributes.
 */
export function translatePage(root) {
  for (const el of root.querySelectorAll('[data-t]')) {
    let src = sources.get(el);
    if (!src) {
      src = { text: el.textContent.trim() };
      sources.set(el, src);
    }
    el.textContent = t(src.text);
  }
  for (const el of root.querySelectorAll('[data-t-attr]')) {
    let src = sources.get(el);
    if (!src) {
      src = {};
      sources.set(el, src);
    }
    src.attrs ??= {};
    for (const name of el.getAttribute('data-t-attr').split(/\s+/).filter(Boolean)) {
      if (!(name in src.attrs)) src.attrs[name] = el.getAttribute(name) ?? '';
      el.setAttribute(name, t(src.attrs[name]));
    }
  }
}

/** Remembers the display language for pages opened before a login (Login, Register, Install). */
export function rememberLanguage(code) {
  document.cookie = `display_language=${encodeURIComponent(code)}; path=/; max-age=31536000; SameSite=Lax`;
}
