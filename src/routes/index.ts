// Every built-in route group. Each group file exports its list; this is the only place they are collected.
import type { Core } from '../core.js';
import { AUTH_ROUTES } from './auth.js';
import { INSTALL_ROUTES } from './install.js';
import { PRESET_ROUTES } from './presets.js';
import { STATUS_ROUTES } from './status.js';

export function registerBuiltInRoutes(core: Core): void {
  for (const route of [...AUTH_ROUTES, ...STATUS_ROUTES, ...PRESET_ROUTES, ...INSTALL_ROUTES]) core.routes.add(route);
}
