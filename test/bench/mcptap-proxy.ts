import { startProxy } from '../../src/proxy/server.js';
import { serveBenchChild } from './proxy-child.js';

// mcptap with full capture (decode, correlate, store to SQLite), as `mcptap proxy` runs it.
const proxy = await startProxy({ target: process.argv[2], port: 0, db: process.argv[3], onWarning: () => {} });
process.send!({ url: proxy.url });
serveBenchChild(() => proxy.close());
