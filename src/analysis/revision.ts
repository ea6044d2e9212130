import type { RpcMessage, Session } from '../model/model.js';
import { payloadJson } from '../model/payload.js';
import { clientIdentity, DISCOVER } from '../wire/mcp-2026.js';

// Which revision of MCP a session spoke, and who chose it. Up to 2025-11-25 the client proposes one in
// initialize and the server's answer decides; from 2026-07-28 there is no handshake: the client names its
// revision on every request (`_meta`, MCP-Protocol-Version), picked from what server/discover offered.

export interface Revision {
  version: string | null;
  /** `initialize`: negotiated in a handshake; `per-request`: named by the client on each request (stateless). */
  how: 'initialize' | 'per-request' | null;
  /** In words: who chose it, from what. */
  chosenBy: string;
  /** A 2026 client that asked server/discover first and fell back to initialize (an older server). */
  fellBack: boolean;
}

const parse = payloadJson;

/** The revision of a session, from its first messages (an initialize, a server/discover, or a request's `_meta`). */
export function revisionOf(session: Session, messages: Iterable<RpcMessage>): Revision {
  const bySeq = new Map<number, RpcMessage>();
  let init: RpcMessage | undefined;
  let discover: RpcMessage | undefined;
  let perRequest: string | null = null;
  for (const m of messages) {
    bySeq.set(m.seq, m);
    if (m.direction !== 'client->server' || m.kind !== 'request') continue;
    if (m.method === 'initialize') init ??= m;
    else if (m.method === DISCOVER) discover ??= m;
    else if (!perRequest) perRequest = clientIdentity(parse(m)?.params)?.protocolVersion ?? null;
  }
  const answerOf = (m: RpcMessage | undefined) => (m?.correlatedSeq != null ? bySeq.get(m.correlatedSeq) : undefined);
  const offered = parse(answerOf(discover))?.result?.supportedVersions;
  const discovered = Array.isArray(offered) ? `chosen by the client from what server/discover offered (${offered.join(', ')})` : discover ? 'chosen by the client (its server/discover got no versions)' : 'chosen by the client without asking server/discover';
  if (init) {
    const asked = parse(init)?.params?.protocolVersion;
    const answered = parse(answerOf(init))?.result?.protocolVersion;
    const fellBack = !!discover && discover.seq < init.seq && !Array.isArray(offered);
    const by = answered == null ? `the client asked for ${asked ?? '?'} in initialize (no answer)`
      : answered === asked ? `initialize: the client asked for ${asked}, the server agreed`
      : `initialize: the client asked for ${asked ?? '?'}, the server chose ${answered}`;
    return { version: session.protocolVersion, how: 'initialize', chosenBy: fellBack ? `${by}, after the server refused server/discover (the client fell back)` : by, fellBack };
  }
  if (perRequest || session.protocolVersion) {
    return { version: perRequest ?? session.protocolVersion, how: 'per-request', chosenBy: `${discovered}, named on every request (no handshake, no session)`, fellBack: false };
  }
  return { version: null, how: null, chosenBy: 'not seen', fellBack: false };
}
