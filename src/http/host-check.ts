// The guard against DNS rebinding (docs/SECURITY.md, threat model; docs/COMPATIBILITY.md#d34): a web page on a
// name its owner controls can make that name resolve to this machine, and the browser then sends the page's
// requests here with the page's name in the Host header. Where the server trusts callers by where they connect
// from (accounts off, or the localhost bypass), such a request would act as the owner; so there it must name
// this server: an IP address, localhost, the host of Network.ExternalURL, or one of Network.AllowedHosts.
import { isIP } from 'node:net';
import type { ServerSettings } from '../settings/server-settings.js';
import type { RequestInfo } from '../api/route.js';

/** Host headers already parsed, with their names: a client sends the same one on every request. */
const parsedHosts = new Map<string, string>();
/** Past this many distinct headers the cache starts over, so odd headers cannot grow it without bound. */
const PARSED_HOSTS_MAX = 256;

/** The host name of a Host header, lower case, without port or IPv6 brackets; null when it has none. */
export function hostName(header: string | undefined): string | null {
  if (header === undefined || header === '') return null;
  const known = parsedHosts.get(header);
  if (known !== undefined) return known;
  const name = parseHostName(header);
  if (parsedHosts.size >= PARSED_HOSTS_MAX) parsedHosts.clear();
  parsedHosts.set(header, name);
  return name;
}

function parseHostName(header: string): string {
  try {
    return new URL(`http://${header}`).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  } catch {
    return '';
  }
}

/** The names the owner told this server it answers to while trusting callers by their address. */
function namedHosts(settings: ServerSettings): string[] {
  const names = settings.list('Network.AllowedHosts').map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
  const external = settings.string('Network.ExternalURL');
  if (external !== '') {
    try {
      names.push(new URL(external.includes('://') ? external : `http://${external}`).hostname.toLowerCase());
    } catch {
      // not a URL: it names no host
    }
  }
  return names;
}

/**
 * The name a request must not be answered under, or null when it may be. Requests that prove who they are
 * (accounts on, no bypass) pass whatever their Host: a rebinding page cannot send this server's cookies. A
 * request without a Host header is not from a browser, and rebinding needs one.
 */
export function refusedHost(info: Pick<RequestInfo, 'headers' | 'localhostBypass'>, settings: ServerSettings): string | null {
  if (settings.bool('UserAuthorization.AuthorizationRequired') && !info.localhostBypass) return null;
  const header = info.headers.host;
  const name = hostName(Array.isArray(header) ? header[0] : header);
  if (name === null) return null;
  if (isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost')) return null;
  if (name !== '' && namedHosts(settings).includes(name)) return null;
  return name;
}

/** The one-line explanation sent with a refusal. */
export function hostRefusalText(name: string): string {
  const shown = name === '' ? 'an unreadable Host header' : `'${name}'`;
  return `This server does not answer to ${shown} while it trusts callers by their address (accounts off or the localhost bypass). Use its IP address or localhost, or add the name to Network.AllowedHosts.`;
}
