/**
 * The legacy HTTP+SSE (2024-11-05) session id, read from the `endpoint` event a server announces or from the
 * URL a client POSTs to. The TypeScript SDK names the query parameter `sessionId` (`/message?sessionId=…`), the
 * Python SDK (FastMCP, postgres-mcp) `session_id` (`/messages/?session_id=…`); both are the same fact.
 */
export const LEGACY_ID_PARAMS = ['sessionId', 'session_id'] as const;

export interface LegacyEndpoint {
  /** The path the client posts to, e.g. `/message` or `/messages/`. */
  path: string;
  /** The query parameter's name as the server spelled it. */
  param: (typeof LEGACY_ID_PARAMS)[number];
  id: string;
}

/** The legacy endpoint named by an `endpoint` event's data or a request URL (relative or absolute), or null. */
export function legacyEndpointOf(urlOrEndpoint: string): LegacyEndpoint | null {
  const raw = urlOrEndpoint.trim();
  if (!raw.includes('ession')) return null;
  let u: URL;
  try {
    u = new URL(raw, 'http://endpoint.invalid/');
  } catch {
    return null;
  }
  for (const param of LEGACY_ID_PARAMS) {
    const id = u.searchParams.get(param);
    if (id) return { path: u.pathname, param, id };
  }
  return null;
}

/** The legacy session id in an `endpoint` event's data or a request URL, whichever spelling; null when none. */
export function legacySessionIdOf(urlOrEndpoint: string): string | null {
  return legacyEndpointOf(urlOrEndpoint)?.id ?? null;
}

/** Whether a request URL posts to a legacy endpoint (carries a legacy session id). */
export const isLegacyPostUrl = (url: string): boolean => legacySessionIdOf(url) != null;
