// A safety net under every logger the server creates: fields that could hold a secret are replaced before a line
// is written. Log calls must not pass secrets in the first place; this catches a field name that slips through.
import type { LoggerOptions } from 'pino';

/** Field names that hold secrets in request bodies, headers and our own records. */
const SECRET_FIELDS = [
  'session_id', 'sessionId', 'sessionIds', 'password', 'oldPassword', 'newPassword', 'prehash', 'token', 'swarm_token',
  'loginToken', 'key', 'apiKey', 'api_key', 'secret', 'cookie', 'authorization', '"x-session-id"', '"x-swarm-token"', '"set-cookie"',
  // OpenID Connect sign-in (docs/COMPATIBILITY.md#d47): what a provider or browser sends and what the flow keeps.
  'credential', 'id_token', 'idToken', 'access_token', 'refresh_token', 'client_secret', 'clientSecret', 'code_verifier',
  'codeVerifier', 'nonce', 'oauth_tracker_key', 'trackerKey',
];

/** The fields at the top of a log object, one level down (e.g. `input.session_id`) and in `headers` two levels down. */
export const LOG_REDACT: NonNullable<LoggerOptions['redact']> = {
  paths: [
    ...SECRET_FIELDS.flatMap((f) => (f.startsWith('"') ? [`headers[${f}]`, `*.headers[${f}]`, `*[${f}]`] : [f, `*.${f}`, `headers.${f}`, `*.headers.${f}`])),
    // PostgreSQL puts the key of a violated constraint (a session id, say) in an error's detail.
    'err.detail',
  ],
  censor: '[redacted]',
};
