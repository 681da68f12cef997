// What AddNewPreset does with `preview_image` (reference/02 §1.1 step 3, §2.4): only JPEG data URLs become
// stored previews, everything path-like is refused, and the thumbnail is made in a worker thread.
import { Worker } from 'node:worker_threads';
import type { ThumbnailResult } from './thumbnail.js';
import type { ThumbnailJob } from './thumbnail-worker.js';

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
} as const;

/** keep = use the edited preset's image (or the placeholder); image = a new data URL; fail = a preset_fail text. */
export type PreviewDecision = { kind: 'keep' } | { kind: 'placeholder' } | { kind: 'image'; dataUrl: string } | { kind: 'fail'; text: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const THUMBNAIL_FAIL = {
  invalid: PRESET_FAIL.previewUnreadable,
  'too-large': PRESET_FAIL.previewTooLarge,
  'too-narrow': PRESET_FAIL.previewTooNarrow,
} satisfies Record<Extract<ThumbnailResult, { ok: false }>['reason'], string>;

export async function decidePreview(preview: string | null, metadata: string | null): Promise<PreviewDecision> {
  // The UI echoes the /ViewSpecial/ URL it was given when the image did not change.
  if (preview === null || preview.trim() === '' || preview.startsWith('/ViewSpecial/')) return { kind: 'keep' };
  if (preview === PREVIEW_PLACEHOLDER) return { kind: 'placeholder' };
  // `/Output...` paths are refused too: the reference "allows" them but can never read one.
  if (!preview.startsWith(JPEG_DATA_PREFIX) || preview.includes('?')) return { kind: 'fail', text: PRESET_FAIL.forbiddenPreview };
  const b64 = preview.slice(JPEG_DATA_PREFIX.length);
  if (Math.floor((b64.length * 3) / 4) > MAX_PREVIEW_BYTES + 2) return { kind: 'fail', text: PRESET_FAIL.previewTooLarge };
  if (b64.length % 4 !== 0 || !BASE64.test(b64)) return { kind: 'fail', text: PRESET_FAIL.previewUnreadable };
  const result = await thumbnails.make(Buffer.from(b64, 'base64'), metadata);
  if (!result.ok) return { kind: 'fail', text: THUMBNAIL_FAIL[result.reason] };
  return { kind: 'image', dataUrl: JPEG_DATA_PREFIX + Buffer.from(result.jpeg).toString('base64') };
}

/** One lazily started worker; jobs queue in its message port. */
class ThumbnailWorker {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (r: ThumbnailResult) => void>();

  make(source: Uint8Array, metadata: string | null): Promise<ThumbnailResult> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      const job: ThumbnailJob = { id, source, metadata };
      worker.postMessage(job);
      worker.ref();
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = newWorker();
    worker.unref();
    worker.on('message', (msg: { id: number; result: ThumbnailResult }) => {
      const resolve = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      resolve?.(msg.result);
    });
    const fail = (): void => {
      if (this.worker !== worker) return;
      this.worker = null;
      for (const resolve of this.pending.values()) resolve({ ok: false, reason: 'invalid' });
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    this.worker = worker;
    return worker;
  }
}

/** The worker beside this file: the built .js, or under tsx (tests, development) the .ts with tsx loaded first. */
function newWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./thumbnail-worker.js', import.meta.url));
  // Loader hooks of the main thread do not reach workers on Node 20, so the worker registers tsx itself.
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL('./thumbnail-worker.ts', import.meta.url).href);
  return new Worker(`import(${tsx}).then((api) => { api.register(); return import(${entry}); });`, { eval: true });
}

const thumbnails = new ThumbnailWorker();
