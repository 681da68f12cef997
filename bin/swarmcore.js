#!/usr/bin/env node
// Runs the compiled command line (npm ci / npm install builds dist/ through the prepare script).
import('../dist/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli.js')) {
    console.error('swarmcore is not built yet: run `npm install` (or `npm run build`) in the swarmcore folder first.');
  } else {
    console.error(err && err.message ? err.message : err);
  }
  process.exit(1);
});
