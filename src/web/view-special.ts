// GET /ViewSpecial/Preset/<title> (docs/COMPATIBILITY.md#preview-images): the raw preview image of one of the
// requesting user's presets. The user comes from the login cookie (or the local user with accounts off), as for
// GetNewSession.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestInfo } from '../api/route.js';
import { apiError } from '../api/errors.js';
import { resolveRequestUser } from '../accounts/request-user.js';
import { sendApiError } from '../http/respond.js';
import type { WebHost } from './pages.js';

const PREFIX = 'viewspecial/';
const DATA_URL = /^data:([a-z0-9.+-]+\/[a-z0-9.+-]+);base64,([A-Za-z0-9+/]*={0,2})$/i;

/** The subtype and name of a /ViewSpecial/ path, or null when the path is not one. */
export function parseViewSpecialPath(pathname: string): { subtype: string; name: string } | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    decoded = pathname;
  }
  const clean = decoded.replace(/\\/g, '/').replace(/\/{2,}/g, '/').replace(/^\/+|\/+$/g, '');
  if (!clean.toLowerCase().startsWith(PREFIX)) return null;
  const rest = clean.slice(PREFIX.length);
  const slash = rest.indexOf('/');
  return slash < 0 ? { subtype: rest, name: '' } : { subtype: rest.slice(0, slash), name: rest.slice(slash + 1) };
}

/** Serves /ViewSpecial/ paths; false when the request is not one. */
export async function handleViewSpecial(host: WebHost, req: IncomingMessage, res: ServerResponse, info: RequestInfo): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const target = parseViewSpecialPath((req.url ?? '/').split('?')[0]!);
  if (!target) return false;
  const who = await resolveRequestUser(host.services, info);
  if (!who) {
    sendApiError(res, apiError('invalid_user'));
    return true;
  }
  const preset = target.subtype.toLowerCase() === 'preset' && target.name !== '' ? await host.services.presets.get(who.userId, target.name) : null;
  const image = preset ? DATA_URL.exec(preset.previewImage) : null;
  if (!image) {
    sendApiError(res, apiError('file_not_found'));
    return true;
  }
  const bytes = Buffer.from(image[2]!, 'base64');
  res.writeHead(200, { 'Content-Type': image[1]!, 'Content-Length': bytes.length, 'Cache-Control': 'private, max-age=2' });
  res.end(req.method === 'HEAD' ? undefined : bytes);
  return true;
}
