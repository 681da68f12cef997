// The server side of `npm run soak`: the real server started in this process (so the event loop can be
// watched from inside without touching src/), controlled by the soak driver over IPC.
//   -> {type: 'ready', url}            once listening
//   <- {type: 'reset'}    -> {type: 'reset'}  start measuring (after warm-up): clears the event-loop histogram
//   <- {type: 'report'}   -> {type: 'report', p99Ms, maxMs, meanMs}
//   <- {type: 'gc'}       -> {type: 'gc', heapUsed, external}  a full collection, so RSS samples compare like with like
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino from 'pino';
import { startServer } from '../src/index.js';

const dataDir = process.argv[2];
if (!dataDir || !process.send) throw new Error('usage: forked by bench/soak.ts with a data dir');
// The histogram records the time between the sampling timer's runs, so every value includes the sampling
// interval itself (an idle process reads about 10 ms at resolution 10). Sample every millisecond and report
// what lies beyond that millisecond: the time the loop was held up.
const RESOLUTION_MS = 1;
const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
delay.enable();
const beyond = (ns: number): number => Math.max(0, ns / 1e6 - RESOLUTION_MS);
const server = await startServer({ dataDir, host: '127.0.0.1', port: 0, logger: pino({ level: 'warn' }, pino.destination(2)) });
process.on('message', (m: { type: string }) => {
  if (m.type === 'reset') {
    delay.reset();
    process.send!({ type: 'reset' });
  }
  if (m.type === 'gc') {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    process.send!({ type: 'gc', heapUsed: m.heapUsed, external: m.external + m.arrayBuffers });
  }
  if (m.type === 'report') process.send!({ type: 'report', p99Ms: beyond(delay.percentile(99)), maxMs: beyond(delay.max), meanMs: beyond(delay.mean) });
  if (m.type === 'stop') {
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  }
});
process.send({ type: 'ready', url: server.url });
