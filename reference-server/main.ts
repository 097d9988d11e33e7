import { readConfig } from './config.js';
import { startReferenceServer } from './server.js';

const server = await startReferenceServer(readConfig(process.env));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
