// Server section, Audit Log: AdminListAuditLog's entries, newest first, filtered by user (the server's `user`) and
// a time range (`since` on the server; the end of the range here, paging back with `before` until entries old
// enough arrive). "Show older entries" pages further back.
import { call } from '../api.js';
import { t } from '../i18n.js';
import { $, attempt, el, formatTime, showMessage } from '../page.js';
import { cleanUserId } from '../prehash.js';

const PAGE = 200;
/** How many pages one search reads at most while looking for entries before the end of the range. */
const MAX_PAGES = 20;

/** Words for each action the server records (docs/COMPATIBILITY.md#d30). */
const ACTION_WORDS = {
  'login.success': () => t('Logged in'),
  'login.failure': () => t('Failed login'),
  'user.add': () => t('Added an account'),
  'user.set_password': () => t('Set a password'),
  'user.change_settings': () => t("Changed an account's settings or roles"),
  'user.delete': () => t('Deleted an account'),
  'user.interrupt': () => t("Stopped a user's generations"),
  'user.impersonate': () => t('Opened the server as another user'),
  'role.add': () => t('Added a role'),
  'role.edit': () => t('Edited a role'),
  'role.delete': () => t('Deleted a role'),
  'settings.change': () => t('Changed server settings'),
};

/** A datetime-local field's value as Unix seconds; null when empty or not a time. */
function fieldSeconds(input) {
  if (input.value === '') return null;
  const ms = new Date(input.value).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

export class AuditPanel {
  constructor() {
    this.entries = [];
    /** The filters of the search shown, and the seq to page back from (null: nothing older). */
    this.query = null;
    this.before = null;
    /** Counts searches, so the answer of one replaced by a newer search is dropped. */
    this.generation = 0;
    this.message = $('#audit-message');
    $('#audit-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void attempt($('#audit-search'), this.message, () => this.search());
    });
    $('#audit-more').addEventListener('click', (e) => void attempt(e.currentTarget, this.message, () => this.more()));
  }

  load() {
    return this.search();
  }

  async search() {
    // Account ids are stored cleaned and in lower case, as the login form cleans what is typed.
    const user = cleanUserId($('#audit-user').value.trim());
    const since = fieldSeconds($('#audit-from'));
    const until = fieldSeconds($('#audit-to'));
    if (since !== null && until !== null && until < since) {
      showMessage(this.message, t('The end of the time range is before its start.'));
      $('#audit-to').focus();
      return;
    }
    this.query = { user, since, until };
    this.entries = [];
    this.before = null;
    this.generation++;
    await this.fetch(true);
  }

  async more() {
    if (this.query && this.before !== null) await this.fetch(false);
  }

  /** Reads pages until some entries in the range arrive (or none are left), and shows them. */
  async fetch(first) {
    const q = this.query;
    if (!q) return;
    const generation = this.generation;
    let added = 0;
    for (let pages = 0; pages < MAX_PAGES && added === 0 && (first || this.before !== null); pages++) {
      first = false;
      const params = { limit: PAGE };
      if (q.user !== '') params.user = q.user;
      if (q.since !== null) params.since = q.since;
      if (this.before !== null) params.before = this.before;
      const page = (await call('AdminListAuditLog', params)).entries;
      if (generation !== this.generation) return;
      this.before = page.length === PAGE ? page[page.length - 1].seq : null;
      const until = q.until;
      const inRange = until === null ? page : page.filter((e) => e.time <= until);
      this.entries.push(...inRange);
      added += inRange.length;
    }
    this.render();
  }

  whoText(e) {
    if (e.user_id) return e.user_id;
    if (e.attempted_name !== null && e.attempted_name !== undefined) return t('{0} (no such account)', e.attempted_name);
    return e.address === 'cli' ? t('command line') : '—';
  }

  render() {
    $('#audit-rows').replaceChildren(
      ...this.entries.map((e) => {
        const words = Object.hasOwn(ACTION_WORDS, e.action) ? ACTION_WORDS[e.action]() : e.action;
        const detail = e.detail && typeof e.detail === 'object' && Object.keys(e.detail).length > 0 ? JSON.stringify(e.detail) : '';
        return el(
          'tr',
          { dataset: { seq: String(e.seq) } },
          el('td', { dataset: { label: t('Time') } }, formatTime(e.time)),
          el('td', { dataset: { label: t('Who') } }, this.whoText(e)),
          el('td', { dataset: { label: t('Address') } }, e.address === 'cli' ? t('command line') : e.address),
          el('td', { dataset: { label: t('Action') } }, words, ' ', el('span', { class: 'setting-id' }, e.action)),
          el('td', { dataset: { label: t('On') } }, e.target ?? ''),
          el('td', { dataset: { label: t('Details') } }, el('code', { class: 'audit-detail' }, detail)),
        );
      }),
    );
    $('#audit-more').hidden = this.before === null;
    if (this.query) showMessage(this.message, this.entries.length === 0 ? t('No entries match these filters.') : t('{0} entries shown, newest first.', this.entries.length), 'info');
  }
}
