// The library entry point: start a server programmatically, add routes, permissions, settings and themes.
export { startServer, ListenError, type ServerOptions, type RunningServer } from './http/server.js';
export { Core, type CoreOptions, VERSION } from './core.js';
export { defineRoute, type RouteDef, type RouteContext, type SessionContext, type RouteOutput } from './api/route.js';
export { apiError, softError, ApiError, ERROR_IDS, type ErrorId } from './api/errors.js';
export type { ParamDef, ParamType } from './api/params.js';
export type { Extension, ExtensionApi } from './extensions.js';
export type { Store } from './store/types.js';
export type { Session } from './accounts/session.js';
