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

export class StatusBar {
  constructor(pageMessage) {
    this.pageMessage = pageMessage;
    this.last = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.failed = false;
    $('#interrupt-button').addEventListener('click', (e) => this.interrupt(false, e.currentTarget));
    $('#interrupt-all-button').addEventListener('click', (e) => this.interrupt(true, e.currentTarget));
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
    text.textContent = b.message ? t(b.message) : t('Backends are running.');
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
