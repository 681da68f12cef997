// The one registry of every error_id swarmcore can answer with. Handlers throw `apiError(id)` or
// `softError(text)`; nothing else spells an error_id.

export interface ErrorDef {
  /** HTTP status the envelope answers with. 200 = a "soft" error the handler returns. */
  status: number;
  /** Default human text, or null when the reference sends only the error_id. */
  text: string | null;
  /** What the error means, for generated docs. */
  meaning: string;
}

export const ERROR_IDS = {
  basic_api: { status: 400, text: 'Invalid request', meaning: 'The request itself is malformed (content type, length, session id).' },
  invalid_session_id: { status: 401, text: 'Invalid session ID. You may need to refresh the page.', meaning: 'The session does not exist, expired or was ended.' },
  bad_route: { status: 400, text: 'Unknown API route', meaning: 'No route with that name.' },
  bad_request_method: { status: 400, text: 'Wrong transport for this route', meaning: 'A WebSocket route called over HTTP or an HTTP route over a WebSocket.' },
  bad_permissions: { status: 400, text: 'You lack permission for this route.', meaning: "The session's user lacks the route's permission." },
  no_result: { status: 400, text: 'The call returned no output.', meaning: 'The handler produced nothing.' },
  internal_error: { status: 400, text: 'An internal error occurred.', meaning: 'The request could not be processed; details are in the server log.' },
  invalid_login: { status: 200, text: null, meaning: 'Wrong user name or password, or password login is disabled.' },
  ratelimit: { status: 200, text: null, meaning: 'Too many attempts; wait a minute.' },
  invalid_input: { status: 200, text: null, meaning: 'User name or password length out of range.' },
  username_exists: { status: 200, text: null, meaning: 'The user name is taken or reserved.' },
  registration_failed: { status: 200, text: null, meaning: 'The account could not be created.' },
  registration_disabled: { status: 200, text: 'Registration is disabled on this server.', meaning: 'Self-registration is turned off.' },
  bad_impersonate: { status: 200, text: 'Impersonation refused.', meaning: 'No permission to impersonate, or no such user.' },
  invalid_user: { status: 400, text: 'Invalid or unauthorized.', meaning: 'A file route found no user for the request.' },
  server_busy: { status: 503, text: 'The server is receiving too much at once; try again shortly.', meaning: 'A request body would exceed the total the server holds for all requests, or too many connections are open (not in the reference).' },
  cross_origin: { status: 403, text: 'This origin may not open WebSocket connections to this server.', meaning: 'A browser page from another origin tried a WebSocket upgrade that Network.AccessControlAllowOrigin does not allow (not in the reference).' },
  host_not_allowed: { status: 403, text: 'This server does not answer to that host name.', meaning: 'The Host header names something other than an IP address, localhost, Network.ExternalURL or Network.AllowedHosts while the server trusts callers by their address (accounts off or the localhost bypass): the DNS-rebinding guard (not in the reference).' },
  address_refused: { status: 403, text: 'This address may not read this endpoint.', meaning: 'A client address outside Network.HealthAllowedIPs or Network.MetricsAllowedIPs asked for /health/* or /metrics (not in the reference).' },
  file_not_found: { status: 404, text: '404, file not found.', meaning: 'No such file.' },
} as const satisfies Record<string, ErrorDef>;

export type ErrorId = keyof typeof ERROR_IDS;

/** A JSON object the envelope sends as the whole answer, with an HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    // An answer, not a fault: skip capturing a stack trace (several microseconds on every refused call).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(typeof body.error === 'string' ? body.error : String(body.error_id ?? 'api error'));
    Error.stackTraceLimit = limit;
    this.name = 'ApiError';
  }
}

/**
 * An error with an error_id from the registry; `text` overrides the default wording (null: no text), `status`
 * the registry's status where the reference answers the same id differently (Login's soft internal_error).
 */
export function apiError(id: ErrorId, text?: string | null, status?: number): ApiError {
  const def: ErrorDef = ERROR_IDS[id];
  const message = text === undefined ? def.text : text;
  const body: Record<string, unknown> = message === null ? { error_id: id } : { error: message, error_id: id };
  return new ApiError(status ?? def.status, body);
}

/** A plain handler error without error_id (HTTP 200), as the reference's parameter and route errors. */
export function softError(text: string): ApiError {
  return new ApiError(200, { error: text });
}
