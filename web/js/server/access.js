// What the logged-in user may do in the Server section, from the permissions GetNewSession reported (`*` is every
// permission). The page only hides what would be refused; the server checks every call again.
import { currentSession } from '../api.js';

/** @param {string} permission */
export function hasPermission(permission) {
  const held = currentSession()?.permissions ?? [];
  return held.includes('*') || held.includes(permission);
}

/** The parts of the Server section, in their order, with the permission each needs to be shown. */
export const SERVER_PARTS = [
  { id: 'users', permission: 'manage_users' },
  { id: 'roles', permission: 'configure_roles' },
  { id: 'settings', permission: 'read_server_settings' },
  { id: 'audit', permission: 'view_audit_log' },
];

/** The ids of the parts this user may open. */
export function allowedParts() {
  return SERVER_PARTS.filter((p) => hasPermission(p.permission)).map((p) => p.id);
}
