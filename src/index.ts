// The library entry point: start a server programmatically with extensions that add routes, permissions,
// settings, themes, languages, backends and supported features.
export { startServer, ListenError, type ServerOptions, type RunningServer, type ShutdownOptions, type ShutdownReport } from './http/server.js';
export { Core, type CoreOptions, type Readiness, VERSION } from './core.js';
export type { Metrics } from './ops/metrics.js';
export { defineRoute, defineSocketRoute, SUCCESS_OUTPUT, type RouteDef, type RouteContext, type SessionContext, type SocketContext, type RouteOutput, type RouteOutputShape, type SocketChannel, type RequestInfo } from './api/route.js';
export { apiError, softError, ApiError, ERROR_IDS, type ErrorId } from './api/errors.js';
export type { Field, Fields, ParamDef, ParamType, Params, ParamValues } from './api/params.js';
export type { Extension, ExtensionApi } from './extensions.js';
export type { Services, ServerInfo } from './services.js';
export type { Store } from './store/types.js';
export type { Session } from './accounts/session.js';
export type { UserService, UserAccess } from './accounts/users.js';
export type { SessionService } from './accounts/sessions.js';
export type { LoginTokenService } from './accounts/login-tokens.js';
export type { RoleService } from './accounts/roles.js';
export type { ApiKeyService, ApiKeyRegistry, ApiKeyType } from './accounts/api-keys.js';
export type { PresetService } from './presets/service.js';
export type { GenerationService } from './generation/service.js';
export type { ServerSettings } from './settings/server-settings.js';
export { PermissionLevel, PERMISSION_GROUPS, type NewPermission, type PermissionGroup, type PermissionLevelName, type SafetyLevelName } from './accounts/permissions.js';
export type { SettingDef, SettingType, SettingValue } from './settings/server-settings.js';
export type { Theme } from './themes/themes.js';
export type { Language } from './i18n/languages.js';
export type { NewUserSetting, NewUserSettingGroup, UserSettingType, UserSettingValue } from './accounts/user-settings.js';
export type { ClusterEvent, EventBus } from './cluster/events.js';
export { SessionWork, GenerationClaim, InterruptedError, type ClaimCounts, type WorkCounts } from './generation/session-work.js';
export { BackendRegistry, overallStatus, BACKEND_STATUS_MESSAGES, type Backend, type BackendStatus, type BackendStatusReport, type OverallBackendStatus } from './generation/backends.js';
export { CURRENT_STATUS_OUTPUT } from './routes/status.js';
