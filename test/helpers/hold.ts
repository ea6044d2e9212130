import { startProxy, type RunningProxy } from '../../src/proxy/server.js';
import { Interceptor } from '../../src/proxy/intercept.js';
import { CaptureStore } from '../../src/store/read.js';
import { until } from './tmp.js';

// What the --hold tests share: a proxy with an interceptor in front of a peer, the one message held
// now, and a read of what was stored.

/** A proxy holding what `filter` matches, recording into `db`; `open` collects what afterAll closes. */
export async function holdingProxy(target: string, filter: string, db: string, label: string, open: Array<{ close(): Promise<void> }>): Promise<{ proxy: RunningProxy; gate: Interceptor; ws: string }> {
  const gate = new Interceptor(filter);
  const proxy = await startProxy({ target, port: 0, db, label, interceptor: gate, onWarning: () => {} });
  open.push({ close: async () => {
    gate.releaseAll();
    await proxy.close();
  } });
  return { proxy, gate, ws: proxy.url.replace(/^http/, 'ws') + '/' };
}

/** The one message held now, once it is held. */
export async function heldOne(gate: Interceptor) {
  await until(() => gate.held().length === 1, 'a held message');
  return gate.held()[0];
}

/** A tool result's first text. */
export const resultText = (r: unknown) => (r as { content: Array<{ text: string }> }).content[0].text;

/** Reads the capture database `db` (read-only) and closes it. */
export function readStored<T>(db: string, fn: (store: CaptureStore) => T): T {
  const store = CaptureStore.open(db, { readonly: true });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}
