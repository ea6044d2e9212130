import type { RpcMessage } from '../model/model.js';
import type { DiffInput } from '../analysis/diff.js';

/**
 * A whole recorded session in memory (messages in seq order, exchanges in start order): what replay
 * and mock work from. The same shape diff reads, so `loadDiffInput` loads it from a session id or a
 * .jsonl recording.
 */
export type Recording = DiffInput;

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
