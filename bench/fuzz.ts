// The long fuzzer: every route and WebSocket route with hostile input, checking the invariants in
// bench/fuzzer.ts after every call. Prints the seed (replay a run with --seed) and the totals; exits 1 on any
// violation.
//
//   npm run fuzz [-- --seed N --requests N --lanes N]
import { parseArgs } from 'node:util';
import { runFuzz } from './fuzzer.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    requests: { type: 'string', default: '100000' },
    lanes: { type: 'string', default: '4' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: npm run fuzz [-- --seed N --requests N --lanes N]');
  process.exit(0);
}
const whole = (name: string, text: string, min: number): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`--${name} must be a whole number of at least ${min}, not '${text}'.`);
    process.exit(2);
  }
  return n;
};
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : whole('seed', values.seed, 0);
const requests = whole('requests', values.requests, 1);
const lanes = whole('lanes', values.lanes, 1);
console.log(`fuzz: seed ${seed}, ${requests} calls, ${lanes} lanes (replay with: npm run fuzz -- --seed ${seed} --requests ${requests} --lanes ${lanes})`);
// Ctrl-C ends the run early and still prints the totals of the calls made so far.
const abort = new AbortController();
process.once('SIGINT', () => abort.abort());
const r = await runFuzz({ seed, requests, lanes, signal: abort.signal, progress: (line) => console.log(`  ${line}`), onFailure: (f) => console.log(`  VIOLATION: ${f}`) });
if (r.interrupted) console.log(`interrupted after ${r.requests} of ${requests} calls`);
const sorted = (o: Record<string, number>): string =>
  Object.entries(o)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
console.log(`seed ${r.seed}: ${r.requests} fuzz calls (${r.webSocketCalls} over WebSocket; ${r.succeeded} succeeded, ${r.refused} refused) and ${r.checkRequests} state reads in ${(r.durationMs / 1000).toFixed(1)} s`);
console.log(`routes: ${sorted(r.byRoute)}`);
console.log(`kinds: ${sorted(r.byKind)}`);
const uncovered = r.routes.filter((name) => !r.byRoute[name]);
if (uncovered.length) r.failures.push(`routes never called: ${uncovered.join(', ')}`);
if (r.failures.length) {
  console.log(`\n${r.failures.length} violation(s) (seed ${r.seed}):`);
  for (const f of r.failures) console.log(`- ${f}`);
  process.exit(1);
}
console.log('no violations');
