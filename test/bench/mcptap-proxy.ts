import { startProxy } from '../../src/proxy/server.js';

// mcptap with full capture (decode, correlate, store to SQLite), as `mcptap proxy` runs it.
const proxy = await startProxy({ target: process.argv[2], port: 0, db: process.argv[3], onWarning: () => {} });
process.send!({ url: proxy.url });
process.on('message', async () => {
  await proxy.close();
  process.exit(0);
});
