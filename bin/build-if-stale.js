#!/usr/bin/env node
// `npm start` runs this first (prestart): it compiles src/ into dist/ only when dist/ is missing or older than a
// source file or a tsconfig, so an unchanged checkout starts without the TypeScript compiler. `npm install` builds
// once (prepare); `npm run build` always builds. Usage: node bin/build-if-stale.js [project folder].
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const src = path.join(root, 'src');
const config = path.join(root, 'tsconfig.build.json');
// The entry point's time is the time of the last build (set below after each build).
const built = path.join(root, 'dist', 'cli.js');

/** The newest modification time (ms) of a file or of any file under a folder. */
function newest(file) {
  const stat = statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = 0;
  for (const entry of readdirSync(file)) max = Math.max(max, newest(path.join(file, entry)));
  return max;
}

if (!existsSync(src) || !existsSync(config)) {
  // An installed package ships dist/ without its sources: nothing to build.
  process.exit(0);
}
const inputs = [src, config, path.join(root, 'tsconfig.json')].filter((f) => existsSync(f));
const sourceTime = Math.max(...inputs.map(newest));
if (existsSync(built) && statSync(built).mtimeMs >= sourceTime) {
  console.error('swarmcore: dist/ is up to date, not compiling.');
  process.exit(0);
}
console.error(existsSync(built) ? 'swarmcore: sources changed since the last build, compiling src/ into dist/.' : 'swarmcore: dist/ is missing, compiling src/.');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', config], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
// Marks this build's time even where the compiler left an unchanged file alone.
const now = new Date();
utimesSync(built, now, now);
