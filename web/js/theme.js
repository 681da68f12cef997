// Applying a theme: swap the theme stylesheets (their paths come from the server's theme registry), mark the
// page dark or light, and remember the choice in the `sui_theme_id` cookie as SwarmUI's pages do.

/** Switches the page to `theme` ({id, css_paths, is_dark}); `remember` keeps it for the next page load. */
export function applyTheme(theme, remember = true) {
  if (!theme || !Array.isArray(theme.css_paths)) return;
  const old = [...document.querySelectorAll('link[data-theme-sheet]')];
  const anchor = old[0] ?? null;
  for (const path of theme.css_paths) {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = path.startsWith('/') || /^[a-z]+:/i.test(path) ? path : `/${path}`;
    link.dataset.themeSheet = '';
    if (anchor) anchor.before(link);
    else document.head.append(link);
  }
  for (const link of old) link.remove();
  const root = document.documentElement;
  root.dataset.theme = theme.id;
  root.classList.toggle('theme-dark', Boolean(theme.is_dark));
  root.classList.toggle('theme-light', !theme.is_dark);
  if (remember) document.cookie = `sui_theme_id=${encodeURIComponent(theme.id)}; path=/; max-age=31536000; SameSite=Lax`;
}
