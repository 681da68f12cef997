// Applying a theme: swap the theme stylesheets (their paths come from the server's theme registry), mark the
// page dark or light, and remember the choice in the `sui_theme_id` cookie as SwarmUI's pages do.
import { siteUrl } from './page.js';

/** Switches the page to `theme` ({id, css_paths, is_dark}); `remember` keeps it for the next page load. */
export function applyTheme(theme, remember = true) {
  if (!theme || !Array.isArray(theme.css_paths)) return Promise.resolve();
  const root = document.documentElement;
  root.dataset.theme = theme.id;
  root.classList.toggle('theme-dark', Boolean(theme.is_dark));
  root.classList.toggle('theme-light', !theme.is_dark);
  if (remember) document.cookie = `sui_theme_id=${encodeURIComponent(theme.id)}; path=/; max-age=31536000; SameSite=Lax`;
  const old = [...document.querySelectorAll('link[data-theme-sheet]')];
  const wanted = theme.css_paths.map(siteUrl);
  if (old.length === wanted.length && old.every((link, i) => link.getAttribute('href') === wanted[i])) return Promise.resolve();
  // The old sheets stay until the new ones have loaded, so the page never shows unstyled in between.
  const anchor = old[0] ?? null;
  const loads = wanted.map((href) => {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = href;
    link.dataset.themeSheet = '';
    const loaded = new Promise((resolve) => {
      link.addEventListener('load', resolve, { once: true });
      link.addEventListener('error', resolve, { once: true });
    });
    if (anchor) anchor.before(link);
    else document.head.append(link);
    return loaded;
  });
  return Promise.all(loads).then(() => {
    for (const link of old) link.remove();
  });
}
