// The extension API: what an embedding application may add to a server. Extensions are plain objects whose
// `register` runs once, before the server starts listening. They see the same services route handlers see,
// never the server's internals (its store, its event bus).
import type { Logger } from 'pino';
import type { ApiKeyType } from './accounts/api-keys.js';
import type { NewPermission } from './accounts/permissions.js';
import type { NewUserSetting, NewUserSettingGroup } from './accounts/user-settings.js';
import type { RouteDef } from './api/route.js';
import type { Backend } from './generation/backends.js';
import type { Language } from './i18n/languages.js';
import type { Services } from './services.js';
import type { SettingDef } from './settings/server-settings.js';
import type { Theme } from './themes/themes.js';

export interface ExtensionApi {
  /**
   * The server's services, exactly as route handlers see them (`ctx.settings` there is `services.settings`
   * here): read settings, look up users, presets, sessions, report generation status.
   */
  readonly services: Services;
  /** Adds an API route; it goes through the same envelope as the built-in ones (session, permission, parameters). */
  addRoute(route: RouteDef): void;
  /** Adds a permission; roles whose level its `default` names receive it once (an administrator may take it away). */
  addPermission(permission: NewPermission): void;
  /** Adds a server setting (readable with `services.settings`, overridable with `--set`). */
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
  /** Adds an upstream API key type users may store with SetAPIKey, with its row on the User tab. */
  addApiKeyType(type: ApiKeyType): void;
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
