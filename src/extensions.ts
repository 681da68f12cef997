// The extension API: what an embedding application may add to a server. Extensions are plain objects whose
// `register` runs once, before the server starts listening.
import type { RouteDef } from './api/route.js';
import type { NewPermission } from './accounts/permissions.js';
import type { SettingDef } from './settings/server-settings.js';
import type { Theme } from './web/themes.js';
import type { Core } from './core.js';

export interface ExtensionApi {
  readonly core: Core;
  addRoute(route: RouteDef): void;
  addPermission(permission: NewPermission): void;
  addServerSetting(setting: SettingDef): void;
  addTheme(theme: Theme): void;
}

export interface Extension {
  /** A short identifier, used in logs. */
  name: string;
  register(api: ExtensionApi): void | Promise<void>;
  /** Runs when the server stops. */
  close?(): void | Promise<void>;
}

export function extensionApi(core: Core): ExtensionApi {
  return {
    core,
    addRoute: (route) => core.routes.add(route),
    addPermission: (permission) => void core.permissions.register(permission),
    addServerSetting: (setting) => core.settings.define(setting),
    addTheme: (theme) => core.themes.add(theme),
  };
}
