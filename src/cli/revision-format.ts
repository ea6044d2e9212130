import type { PeerInfo, Session } from '../model/model.js';

const peer = (p: PeerInfo | null) => (p ? `${p.name}${p.version ? ' ' + p.version : ''}` : '?');

/** The identity a stateless session repeats on every message, said once: client and server, name and version. */
export function peerText(s: Session): string {
  const caps = s.clientCapabilities ? Object.keys(s.clientCapabilities) : [];
  return `client ${peer(s.clientInfo)}${caps.length ? ` (${caps.join(', ')})` : ''} → server ${peer(s.serverInfo)} (from _meta; folded out of the lines below)`;
}
