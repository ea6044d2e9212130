import type { PeerInfo, Session } from '../model/model.js';
import type { RoundTrip } from '../analysis/round-trips.js';
import { duration } from './format.js';

/** How a stateless session was grouped, in a line; null for a session with a handshake or a session id. */
export function groupingText(s: Session): string | null {
  const g = s.grouping;
  if (!g) return null;
  const start = g.startedByDiscover ? 'started by its server/discover' : 'joined under way (no server/discover seen)';
  return `grouping: no session id, so mcptap grouped this client's requests (${start}, then its connections)${g.uncertain ? `; ${g.guessed} placed by guess: ${g.uncertain}` : ''}`;
}

const peer = (p: PeerInfo | null) => (p ? `${p.name}${p.version ? ' ' + p.version : ''}` : '?');

/**
 * A result's caching hints (2026-07-28: `cacheScope`, `ttlMs` on discover, lists and reads), in words; null
 * when it carries none.
 */
export function cachingText(payload: string): string | null {
  let r: { cacheScope?: unknown; ttlMs?: unknown } | undefined;
  try {
    r = (JSON.parse(payload) as { result?: typeof r }).result;
  } catch {
    return null;
  }
  if (!r || (r.cacheScope === undefined && r.ttlMs === undefined)) return null;
  const ttl = typeof r.ttlMs === 'number' ? (r.ttlMs > 0 ? `fresh for ${r.ttlMs} ms` : 'stale at once (ttlMs 0)') : 'no ttlMs (stale at once)';
  const scope = r.cacheScope === 'public' ? 'public: any cache, shared gateways too' : r.cacheScope === 'private' ? 'private: this caller only, never a shared cache' : `cacheScope ${JSON.stringify(r.cacheScope ?? null)}`;
  return `caching: ${ttl}; ${scope}`;
}

/** A multi-round-trip step in words: which round of which request, and the whole exchange's rounds and time. */
export function roundTripText(t: RoundTrip | undefined): string | null {
  if (!t) return null;
  return `round ${t.round} of the request #${t.first}${t.rounds != null ? `: ${t.rounds} round trips, ${duration(t.totalMs ?? null)} in all` : ''}`;
}

/** The identity a stateless session repeats on every message, said once: client and server, name and version. */
export function peerText(s: Session): string {
  const caps = s.clientCapabilities ? Object.keys(s.clientCapabilities) : [];
  return `client ${peer(s.clientInfo)}${caps.length ? ` (${caps.join(', ')})` : ''} → server ${peer(s.serverInfo)} (from _meta; folded out of the lines below)`;
}
