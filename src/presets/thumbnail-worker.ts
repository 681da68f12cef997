// Worker thread entry: makes preview thumbnails off the event loop (see preview-image.ts).
import { parentPort } from 'node:worker_threads';
import { makeThumbnail, type ThumbnailResult } from './thumbnail.js';

export interface ThumbnailJob {
  id: number;
  source: Uint8Array;
  metadata: string | null;
}

parentPort!.on('message', (job: ThumbnailJob) => {
  let result: ThumbnailResult;
  try {
    result = makeThumbnail(job.source, job.metadata);
  } catch {
    result = { ok: false, reason: 'invalid' };
  }
  parentPort!.postMessage({ id: job.id, result }, result.ok ? [result.jpeg.buffer as ArrayBuffer] : []);
});
