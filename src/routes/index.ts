// Every built-in route group. Each group file exports its list; this is the only place they are collected.
import type { RouteDef } from '../api/route.js';
import { ADMIN_ROUTES } from './admin.js';
import { AUTH_ROUTES } from './auth.js';
import { INSTALL_ROUTES } from './install.js';
import { ACCOUNT_ROUTES } from './account.js';
import { PRESET_ROUTES } from './presets.js';
import { USER_DATA_ROUTES } from './user-data.js';
import { USER_SETTINGS_ROUTES } from './user-settings.js';
import { STATUS_ROUTES } from './status.js';

export const BUILT_IN_ROUTES: readonly RouteDef[] = [...AUTH_ROUTES, ...STATUS_ROUTES, ...PRESET_ROUTES, ...USER_SETTINGS_ROUTES, ...USER_DATA_ROUTES, ...ACCOUNT_ROUTES, ...INSTALL_ROUTES, ...ADMIN_ROUTES];
