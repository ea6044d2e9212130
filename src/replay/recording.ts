import type { Exchange, RpcMessage, Session } from '../capture/model.js';
import type { CaptureStore } from '../store/read.js';

/** A whole recorded session in memory: what replay and mock work from. */
export interface Recording {
  session: Session;
  /** In seq order. */
  messages: RpcMessage[];
  /** In start order. */
  exchanges: Exchange[];
}

/** Reads a session (id or unique prefix) from the store. */
export function recordingFromStore(store: CaptureStore, idOrPrefix: string): Recording {
  const session = store.resolveSession(idOrPrefix);
  return { session, messages: [...store.iterateMessages(session.id)], exchanges: store.exchanges(session.id) };
}

/** A stored payload parsed, or undefined when it is not JSON or was cut by --max-body. */
export function parsePayload(m: RpcMessage): Record<string, unknown> | undefined {
  if (m.truncated || m.kind === 'non-json' || m.kind === 'invalid') return undefined;
  try {
    const v = JSON.parse(m.payload) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
