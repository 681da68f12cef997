// Worker process entry: makes preview thumbnails for thumbnail-pool.ts, one job at a time. A process rather than a
// thread because a decode's memory (up to ~900 MB for 24 MP) only goes back to the system when its process ends.
import { makeThumbnail, type ThumbnailResult } from './thumbnail.js';

export interface ThumbnailJob {
  source: Uint8Array;
  metadata: string | null;
}

export interface ThumbnailReply {
  result: ThumbnailResult;
  /** CPU time the job took in this process, for the pool's debug log. */
  cpuMs: number;
}

process.on('message', (job: ThumbnailJob) => {
  const start = process.cpuUsage();
  let result: ThumbnailResult;
  try {
    result = makeThumbnail(job.source, job.metadata);
  } catch {
    result = { ok: false, reason: 'invalid' };
  }
  const used = process.cpuUsage(start);
  const reply: ThumbnailReply = { result, cpuMs: Math.round((used.user + used.system) / 1000) };
  process.send!(reply);
});
// The pool ends this process when it is done with it; a lost parent must not leave it behind.
process.on('disconnect', () => process.exit(0));
