// What AddNewPreset does with `preview_image` (docs/COMPATIBILITY.md, presets): only JPEG data URLs become stored
// previews, everything path-like is refused, the frame header is checked before anything is decoded, and the
// thumbnail is made in a worker process of the shared pool.
import type { Logger } from 'pino';
import { DEFAULT_POOL_OPTIONS, ThumbnailPool, type PoolResult } from './thumbnail-pool.js';
import { MAX_PIXELS_PER_BYTE, checkJpegHeader } from './thumbnail.js';

export const PREVIEW_PLACEHOLDER = 'imgs/model_placeholder.jpg';
export const JPEG_DATA_PREFIX = 'data:image/jpeg;base64,';
/** Largest source JPEG accepted, in bytes after base64 decoding. */
export const MAX_PREVIEW_BYTES = 16 * 1024 * 1024;

export const PRESET_FAIL = {
  invalidTitle: 'Invalid or empty title.',
  exists: 'A preset with that title already exists.',
  forbiddenPreview: 'Forbidden preview-image path.',
  noSuchPreset: 'No such preset.',
  previewTooLarge: 'The preview image is too large: send a JPEG of at most 16 MiB and 25 megapixels.',
  previewTooNarrow: 'The preview image is too long and narrow: its long side may be at most 64 times its short side.',
  previewUnreadable: 'The preview image could not be read as a JPEG.',
  previewImplausible: `The preview image is damaged: its header claims more pixels than the file can hold (a JPEG needs at least 1 byte per ${MAX_PIXELS_PER_BYTE} pixels), so it was not decoded.`,
  previewOverLimits: 'The preview image took more time or memory than one preview may use; send a smaller JPEG.',
  previewBusy: `You already have ${DEFAULT_POOL_OPTIONS.perUserJobs} preview images being made; try again once they are done.`,
  previewServerBusy: 'The server has too many preview images waiting to be made; try again shortly.',
} as const;

/** keep = use the edited preset's image (or the placeholder); image = a new data URL; fail = a preset_fail text. */
export type PreviewDecision = { kind: 'keep' } | { kind: 'placeholder' } | { kind: 'image'; dataUrl: string } | { kind: 'fail'; text: string };

/** Who sends the preview: their previews are made one at a time, taking turns with other users'. */
export interface PreviewRequester {
  owner: string;
  log?: Logger;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const THUMBNAIL_FAIL = {
  invalid: PRESET_FAIL.previewUnreadable,
  'too-large': PRESET_FAIL.previewTooLarge,
  'too-narrow': PRESET_FAIL.previewTooNarrow,
  implausible: PRESET_FAIL.previewImplausible,
  'over-limits': PRESET_FAIL.previewOverLimits,
  busy: PRESET_FAIL.previewBusy,
  'server-busy': PRESET_FAIL.previewServerBusy,
} satisfies Record<Extract<PoolResult, { ok: false }>['reason'], string>;

const thumbnails = new ThumbnailPool(DEFAULT_POOL_OPTIONS);

export async function decidePreview(preview: string | null, metadata: string | null, requester: PreviewRequester): Promise<PreviewDecision> {
  // The UI echoes the /ViewSpecial/ URL it was given when the image did not change.
  if (preview === null || preview.trim() === '' || preview.startsWith('/ViewSpecial/')) return { kind: 'keep' };
  if (preview === PREVIEW_PLACEHOLDER) return { kind: 'placeholder' };
  // `/Output...` paths are refused too: the reference "allows" them but can never read one.
  if (!preview.startsWith(JPEG_DATA_PREFIX) || preview.includes('?')) return { kind: 'fail', text: PRESET_FAIL.forbiddenPreview };
  const b64 = preview.slice(JPEG_DATA_PREFIX.length);
  if (Math.floor((b64.length * 3) / 4) > MAX_PREVIEW_BYTES + 2) return { kind: 'fail', text: PRESET_FAIL.previewTooLarge };
  if (b64.length % 4 !== 0 || !BASE64.test(b64)) return { kind: 'fail', text: PRESET_FAIL.previewUnreadable };
  const source = Buffer.from(b64, 'base64');
  // Refusals that the header alone decides cost no decode and never wait behind anyone's queue.
  const header = checkJpegHeader(source);
  if (!header.ok) return { kind: 'fail', text: THUMBNAIL_FAIL[header.reason] };
  const result = await thumbnails.make({ owner: requester.owner, source, metadata, pixels: header.width * header.height, log: requester.log });
  if (!result.ok) return { kind: 'fail', text: THUMBNAIL_FAIL[result.reason] };
  return { kind: 'image', dataUrl: JPEG_DATA_PREFIX + Buffer.from(result.jpeg).toString('base64') };
}
