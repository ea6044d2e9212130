import type { PeerInfo, Session } from '../model/model.js';

/** How a stateless session was grouped, in a line; null for a session with a handshake or a session id. */
export function groupingText(s: Session): string | null {
  const g = s.grouping;
  if (!g) return null;
  const start = g.startedByDiscover ? 'started by its server/discover' : 'joined under way (no server/discover seen)';
  return `grouping: no session id, so mcptap grouped this client's requests (${start}, then its connections)${g.uncertain ? `; ${g.guessed} placed by guess: ${g.uncertain}` : ''}`;
}

const peer = (p: PeerInfo | null) => (p ? `${p.name}${p.version ? ' ' + p.version : ''}` : '?');

/** The identity a stateless session repeats on every message, said once: client and server, name and version. */
export function peerText(s: Session): string {
  const caps = s.clientCapabilities ? Object.keys(s.clientCapabilities) : [];
  return `client ${peer(s.clientInfo)}${caps.length ? ` (${caps.join(', ')})` : ''} → server ${peer(s.serverInfo)} (from _meta; folded out of the lines below)`;
}
