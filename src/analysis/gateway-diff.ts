import type { Session } from '../model/model.js';
import { describeGateway, LITELLM_SEPARATOR } from '../capture/gateway.js';
import type { PathDiff } from './jsondiff.js';
import type { ToolSurfaceDiff } from './tools.js';

// One session straight to an MCP server, the other through a gateway (LiteLLM) in front of the same
// server: the gateway answers initialize itself, serves its own endpoint, and lists the server's tools
// under `<server>-`. Those differences are the gateway's, not the server's: the diff names the gateway,
// the server and the prefix, lists what the gateway changed, and compares the rest as usual.

export interface GatewayDiff {
  /** The side that went through the gateway. */
  side: 'a' | 'b';
  /** 'litellm' */
  name: string;
  /** "via litellm → files" */
  via: string;
  /** The upstream server the tools came from, when the prefix names one. */
  server: string | null;
  /** The prefix the gateway put on the server's tool names ('files-'), or null when it added none. */
  prefix: string | null;
  /** What the gateway changed, one line each (handshake fields, result fields, the HTTP endpoint). */
  changes: string[];
}

/** The gateway between two sessions, when exactly one of them went through one; otherwise null. */
export function gatewayBetween(a: Session, b: Session, tools: ToolSurfaceDiff): GatewayDiff | null {
  if (!a.gateway === !b.gateway) return null;
  const side = a.gateway ? 'a' : 'b';
  const g = (a.gateway ?? b.gateway)!;
  const sep = g.separator || LITELLM_SEPARATOR;
  // Renames point from A's names to B's: a prefix the gateway side has.
  const prefixOf = (r: { from: string; to: string }) => {
    const [plain, prefixed] = side === 'b' ? [r.from, r.to] : [r.to, r.from];
    return prefixed.endsWith(plain) ? prefixed.slice(0, prefixed.length - plain.length) : null;
  };
  const prefixes = [...new Set(tools.renamed.map(prefixOf))];
  const known = new Set([...g.servers, ...g.prefixes].map((s) => s + sep));
  const prefix = prefixes.length === 1 && prefixes[0] && known.has(prefixes[0]) ? prefixes[0] : null;
  return { side, name: g.name, via: describeGateway(g) ?? `via ${g.name}`, server: prefix ? prefix.slice(0, -sep.length) : g.servers.length === 1 ? g.servers[0] : null, prefix, changes: [] };
}

/** The tool renames are the gateway's prefix, and nothing else. */
export function renamesExplained(gw: GatewayDiff | null, tools: ToolSurfaceDiff): boolean {
  return !!gw?.prefix && tools.renamed.length > 0;
}

/** A result field one side has and the other lacks, which gateways drop (LiteLLM 1.77: structuredContent). */
export function droppedByGateway(p: PathDiff): boolean {
  return (p.change === 'added' || p.change === 'removed') && /^\$\.result\.structuredContent$/.test(p.path);
}
