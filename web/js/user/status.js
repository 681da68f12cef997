// The status bar: GetCurrentStatus every few seconds (backend state and this session's work), and the two
// Interrupt buttons (InterruptAll for this session, or for every session of the user).
import { call } from '../api.js';
import { t } from '../i18n.js';
import { $, attempt, showMessage } from '../page.js';

const POLL_MS = 3000;
const COUNT_WORDS = [
  ['waiting_gens', 'waiting'],
  ['loading_models', 'loading models'],
  ['waiting_backends', 'waiting for backends'],
  ['live_gens', 'generating'],
];

/**
 * What the status bar says about the backends. The server sends the reference's exact English message
 * (docs/COMPATIBILITY.md#backend-status); three of them send people to a Backends section of a Server tab that
 * swarmcore does not have, so for those states the page says what is true here: backends come from extensions.
 */
function backendWords(b) {
  switch (b.status) {
    case 'empty':
      return t('No image generation backend is registered on this server, so nothing can be generated yet. Backends are added by server extensions, which the server owner installs.');
    case 'all_disabled':
      return t('Every image generation backend on this server is turned off, so nothing can be generated until the server owner turns one on.');
    case 'unknown':
      return t('A backend reports a state this server does not know; the extension that adds it may need an update.');
    default:
      return b.message ? t(b.message) : t('Backends are running.');
  }
}

export class StatusBar {
  constructor(pageMessage) {
    this.pageMessage = pageMessage;
    this.last = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.failed = false;
    $('#interrupt-button').addEventListener('click', (e) => this.interrupt(false, e.currentTarget));
    $('#interrupt-all-button').addEventListener('click', (e) => this.interrupt(true, e.currentTarget));
    // At phone width the bar shows one line; this button (shown only there) opens it to the whole text.
    $('#status-more').addEventListener('click', (e) => {
      const open = $('#statusbar').classList.toggle('expanded');
      e.currentTarget.setAttribute('aria-expanded', String(open));
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) void this.refresh();
    });
  }

  start() {
    void this.refresh();
  }

  async refresh() {
    clearTimeout(this.timer);
    try {
      this.last = await call('GetCurrentStatus');
      this.failed = false;
    } catch (err) {
      this.failed = err.message;
    }
    this.render();
    this.timer = setTimeout(() => void this.refresh(), POLL_MS);
  }

  render() {
    const box = $('#backend-status');
    const text = $('#backend-text');
    if (this.failed) {
      box.className = 'status-error';
      text.textContent = t('Status unavailable: {0}', this.failed);
      return;
    }
    if (!this.last) return;
    const b = this.last.backend_status;
    box.className = b.class ? `status-${b.class}` : 'status-ok';
    text.textContent = backendWords(b);
    const parts = COUNT_WORDS.filter(([key]) => this.last.status[key] > 0).map(([key, words]) => `${t(words)}: ${this.last.status[key]}`);
    $('#work-counts').textContent = parts.join(' · ');
  }

  async interrupt(all, button) {
    await attempt(button, this.pageMessage, async () => {
      await call('InterruptAll', { other_sessions: all });
      showMessage(this.pageMessage, all ? t('Stopped the work of all your sessions.') : t("Stopped this page's work."), 'ok');
      await this.refresh();
    });
  }
}
