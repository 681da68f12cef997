// Every limit the front door enforces, in one place, each with the reason for its value. Bodies, time and
// connections are all bounded so that no client, anonymous or slow, can take memory, disk or descriptors from
// the others (docs/ARCHITECTURE.md#request-intake).
import { readFileSync } from 'node:fs';

/** Sessionless routes (Login, RegisterBasic, GetNewSession) read at most this much: their inputs are a few fields. */
export const SESSIONLESS_MAX_BYTES = 64 * 1024;
/**
 * Until a request's session is known to be valid, at most this much of its body is held in memory, the same
 * figure as the sessionless cap; what arrives beyond it goes to a spill file while the session id is looked for.
 */
export const PRE_SESSION_MEMORY_BYTES = SESSIONLESS_MAX_BYTES;
/**
 * Total memory for bodies whose session is not yet known (small bodies and the first 64 KiB of large ones),
 * across all requests: 1024 such requests at their cap, far more than a real server has in flight at once.
 */
export const PRE_SESSION_TOTAL_BYTES = 64 * 1024 * 1024;
/**
 * Total bytes held in memory for large bodies of valid sessions, across all requests: room for two requests of
 * the largest allowed size (Network.MaxNetworkRequestMegabytes), so one big upload never shuts out another.
 */
export function inFlightBudgetBytes(maxRequestBytes: number): number {
  return 2 * maxRequestBytes;
}
/** Total bytes in spill files across all requests: again two requests of the largest allowed size. */
export function spillBudgetBytes(maxRequestBytes: number): number {
  return 2 * maxRequestBytes;
}
/** Longest session_id value the scanner keeps; real ids are 40 characters, anything longer is not a session. */
export const SESSION_ID_SCAN_MAX_BYTES = 4096;

/** Request headers must be complete this long after the request starts (node's headersTimeout): a browser needs milliseconds. */
export const HEADERS_TIMEOUT_MS = 20_000;
/**
 * The whole request, body included, must arrive within this (node's requestTimeout): a 200 MiB upload needs about
 * 350 KB/s, so 10 minutes fits real uploads while a slow sender cannot keep a connection for ever.
 */
export const REQUEST_TIMEOUT_MS = 10 * 60_000;
/**
 * An idle keep-alive connection is closed after this (node's keepAliveTimeout; its default is 5 s). Clients reuse
 * a pooled connection until about a second before the advertised timeout, so a client whose event loop is busy
 * for a second (building a large body) would write into a connection the server just closed (EPIPE); the longer
 * the timeout, the rarer that race. Idle connections still count against the connection caps.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 30_000;
/** How often node looks at connections for the two timeouts above; the timeouts are only as exact as this. */
export const TIMEOUT_CHECK_INTERVAL_MS = 1000;
/** A body that sends nothing for this long is abandoned: a live client never pauses so long mid-body. */
export const BODY_IDLE_MS = 20_000;
/** After this much of the server's waiting on it, a body must average at least BODY_MIN_BYTES_PER_SECOND. */
export const BODY_GRACE_MS = 10_000;
/** Slower than a 128 kbit/s line: only a deliberately dripping client is this slow. */
export const BODY_MIN_BYTES_PER_SECOND = 16 * 1024;
/** After refusing a body mid-way, the server reads and discards for at most this long so the client sees the answer. */
export const REFUSED_BODY_LINGER_MS = 2000;

/**
 * Open connections from one client address (an IPv6 client: its /64): a browser opens at most 6 per host, but a
 * script calling the API in parallel opens one per call in flight (HTTP clients pool hundreds), and each idle
 * keep-alive connection counts until it closes. Still far below the total, so one address cannot take it all.
 * Addresses in Network.TrustedProxies are exempt (all of a proxy's clients share them).
 */
export const CONNECTIONS_PER_ADDRESS = 256;
/** Upper bound on all open connections, whatever the descriptor limit. */
const CONNECTIONS_MAX = 10_000;
/** Descriptors kept for everything but connections: database, log, static files, thumbnail workers. */
const RESERVED_DESCRIPTORS = 128;

/** The process's open-file limit (soft), as `ulimit -n` shows it; 1024 when it cannot be read. */
export function descriptorLimit(limitsText?: string): number {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return 1024;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!m) return 1024;
  return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]);
}

/**
 * All open connections: each may also hold a spill file, so at most half the descriptors left after the
 * reserve, and never more than CONNECTIONS_MAX.
 */
export function totalConnectionCap(descriptors = descriptorLimit()): number {
  return Math.max(16, Math.min(CONNECTIONS_MAX, Math.floor((descriptors - RESERVED_DESCRIPTORS) / 2)));
}
