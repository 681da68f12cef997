// The extension API: what an embedding application may add to a server. Extensions are plain objects whose
// `register` runs once, before the server starts listening.
import path from 'node:path';
import type { RouteDef } from './api/route.js';
import type { NewPermission } from './accounts/permissions.js';
import type { SettingDef } from './settings/server-settings.js';
import type { Theme } from './web/themes.js';
import type { Core } from './core.js';
import type { Logger } from 'pino';
import type { Backend } from './generation/backends.js';
import { defineUserSettingDefaults, type NewUserSetting, type NewUserSettingGroup } from './accounts/user-settings.js';
import { LANGUAGE_CODE, type Language } from './i18n/languages.js';

export interface ExtensionApi {
  readonly core: Core;
  addRoute(route: RouteDef): void;
  addPermission(permission: NewPermission): void;
  addServerSetting(setting: SettingDef): void;
  addTheme(theme: Theme): void;
  /** Serves a folder's files at `/ExtensionFile/<extension name>/<path>` (theme stylesheets, images, scripts). */
  addFiles(folder: string): void;
  /**
   * Adds a per-user setting (or a group of them) at the top of the settings tree. Every user sees it in
   * GetUserSettings and may change it; the server setting `DefaultUser.<Name>` holds its default for everyone.
   */
  addUserSetting(setting: NewUserSetting | NewUserSettingGroup): void;
  /** Adds a UI translation (GetLanguage, the `language` setting); one with the same code is replaced. */
  addLanguage(language: Language): void;
  /** Registers a generation backend; GetCurrentStatus reads its state on every call. Returns its removal. */
  addBackend(backend: Backend): () => void;
  /** A feature id listed in `supported_features` whatever the backends support. */
  addSupportedFeature(feature: string): void;
  /** The server's logger, tagged with the extension's name. */
  readonly log: Logger;
}

export interface Extension {
  /** A short identifier, used in logs. */
  name: string;
  register(api: ExtensionApi): void | Promise<void>;
  /** Runs when the server stops. */
  close?(): void | Promise<void>;
}

export function extensionApi(core: Core, extension?: Extension): ExtensionApi {
  return {
    core,
    log: extension ? core.log.child({ extension: extension.name }) : core.log,
    addRoute: (route) => core.routes.add(route),
    addPermission: (permission) => void core.permissions.register(permission),
    addServerSetting: (setting) => core.settings.define(setting),
    addTheme: (theme) => core.themes.add(theme),
    addFiles: (folder) => {
      if (!extension) throw new Error('Files can only be served for a named extension');
      if (core.extensionFiles.has(extension.name)) throw new Error(`Extension '${extension.name}' serves files already`);
      core.extensionFiles.set(extension.name, path.resolve(folder));
    },
    addUserSetting: (setting) => defineUserSettingDefaults(core.settings, core.userSettings.add(setting)),
    addLanguage: (language) => {
      if (!LANGUAGE_CODE.test(language.code)) throw new Error(`Language code '${language.code}' must be 1 to 32 letters, digits, '_' or '-'`);
      core.languages.add(language);
    },
    addBackend: (backend) => core.backends.add(backend),
    addSupportedFeature: (feature) => core.backends.addFeature(feature),
  };
}
