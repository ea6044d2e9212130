import type { RpcMessage } from './model.js';

/** A stored message's JSON, or undefined when it is not JSON or was stored cut (--max-body). */
export function payloadJson(m: RpcMessage | undefined): any {
  if (!m || m.kind === 'non-json' || m.truncated) return undefined;
  try {
    return JSON.parse(m.payload);
  } catch {
    return undefined;
  }
}
