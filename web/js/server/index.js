// The Server section of the user page: Users, Roles, Server Settings and Audit Log, each shown only to a user whose
// permissions allow it (see access.js), each loaded from the server whenever it is opened.
import { t } from '../i18n.js';
import { $, $$, showMessage } from '../page.js';
import { allowedParts } from './access.js';
import { AuditPanel } from './audit.js';
import { RolesPanel } from './roles.js';
import { ServerSettingsPanel } from './settings.js';
import { UsersPanel } from './users.js';

export class ServerSection {
  constructor() {
    this.panels = { users: new UsersPanel(), roles: new RolesPanel(), settings: new ServerSettingsPanel(), audit: new AuditPanel() };
    /** The part shown, or null. */
    this.shown = null;
    /** @type {{ id: string } | null} the part whose load is under way */
    this.loading = null;
  }

  /** Whether the user may open any part (the section's pill is shown only then). */
  available() {
    return allowedParts().length > 0;
  }

  /** Shows the pill and the sub-navigation links this user's permissions allow. */
  update() {
    const allowed = allowedParts();
    $('#server-nav-item').hidden = allowed.length === 0;
    for (const item of $$('[data-server-part]')) item.hidden = !allowed.includes(item.dataset.serverPart ?? '');
  }

  /** Shows one part (the first allowed one when `part` is not allowed) and loads it. */
  show(part, focus) {
    const allowed = allowedParts();
    const id = part && allowed.includes(part) ? part : allowed[0];
    for (const name of Object.keys(this.panels)) $(`#server-${name}`).hidden = name !== id;
    for (const link of $$('.server-nav a')) {
      if (link.getAttribute('href') === `#server-${id}`) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    if (!id) return;
    this.shown = id;
    if (focus) $(`#server-${id} h2`).focus();
    // A part shown again while its load is still under way (the page's start and its address both show it)
    // waits for that load instead of starting a second one that would replace what the first drew.
    if (this.loading?.id === id) return;
    const loading = { id };
    this.loading = loading;
    this.panels[id]
      .load()
      .catch((err) => this.failed(id, err))
      .finally(() => {
        if (this.loading === loading) this.loading = null;
      });
  }

  failed(id, err) {
    const boxes = { users: '#users-message', roles: '#roles-message', settings: '#server-settings-message', audit: '#audit-message' };
    showMessage($(boxes[id]), t('This part could not be loaded: {0}', err.message));
  }

  /** Redraws the texts built by script after a language switch. */
  render() {
    for (const panel of Object.values(this.panels)) panel.render();
  }
}
