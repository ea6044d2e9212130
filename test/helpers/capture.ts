import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startProxy } from '../../src/proxy/server.js';
import { CaptureStore } from '../../src/store/read.js';
import { connectClient, type Peer } from './peers.js';

/**
 * Runs `calls` with a real SDK client (Streamable HTTP) through a fresh proxy in front of `peer`,
 * recording into `db` under `label`; returns the captured session's id.
 */
export async function captureSession(db: string, peer: Peer, label: string, calls: (c: Client) => Promise<void>, clientName = 'claude-code'): Promise<string> {
  const proxy = await startProxy({ target: peer.url, port: 0, db, label, onWarning: () => {} });
  try {
    const c = await connectClient('streamable-http', proxy.url + '/mcp', { name: clientName });
    await calls(c.client);
    await c.close();
  } finally {
    await proxy.close();
  }
  const store = CaptureStore.open(db, { readonly: true });
  try {
    return store.listSessions().find((s) => s.label === label)!.id;
  } finally {
    store.close();
  }
}
