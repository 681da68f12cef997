// Starts a swarmcore server with the procedural-images extension:
//   node --import tsx examples/procedural-images/serve.ts [dataDir] [port]
// then open the printed URL, or call /API/GetNewSession and /API/GenerateText2Image.
import pino from 'pino';
import { startServer } from '../../src/index.js';
import proceduralImages from './index.js';

const server = await startServer({
  dataDir: process.argv[2] ?? 'data-procedural',
  port: Number(process.argv[3] ?? 7801),
  extensions: [proceduralImages],
  settings: { 'ProceduralImages.MaxConcurrent': 2 },
  logger: pino({ level: 'info' }),
});
console.log(`swarmcore with procedural images listening on ${server.url}`);
const stop = (): void => {
  server.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('stopping the server failed:', err);
      process.exit(1);
    },
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
