import type { RunningProxy } from '../proxy/server.js';
import type { TargetProbe } from '../proxy/probe.js';
import { commandLine } from './invocation.js';

/** The proxy's address as a client on this machine reaches it: a wildcard listen address is no URL to connect to. */
export function clientBase(proxy: RunningProxy): string {
  const host = proxy.host === '0.0.0.0' ? '127.0.0.1' : proxy.host === '::' ? '[::1]' : proxy.host.includes(':') ? `[${proxy.host}]` : proxy.host;
  return `http://${host}:${proxy.port}`;
}

/** The `claude mcp add` lines for the proxy, the transport the target speaks first. */
export function connectLines(proxy: RunningProxy, name: string, probe: TargetProbe | null): string[] {
  const base = clientBase(proxy);
  const root = proxy.target.prefix;
  // The path the target redirected /mcp to (LiteLLM's /mcp/), so the client need not follow a redirect each time.
  const http = `claude mcp add --transport http ${name} ${base}${root ? '/' : probe?.mcpPath ?? '/mcp'}`;
  const sse = `claude mcp add --transport sse ${name} ${base}${root ? '/' : '/sse'}`;
  return probe?.transport === 'sse' ? [sse, http] : [http, sse];
}

function targetLine(probe: TargetProbe | null): string {
  if (!probe) return '';
  if (!probe.reachable) return `   NOT REACHABLE (${probe.error}): start the server or fix --target; the proxy runs anyway`;
  if (probe.transport === 'streamable-http') return `   (speaks Streamable HTTP${probe.mcpPath ? ` on ${probe.mcpPath}: /mcp redirects there` : ''})`;
  if (probe.transport === 'sse') return '   (speaks legacy HTTP+SSE)';
  if (probe.postStatus === 401 || probe.postStatus === 403) return `   (answers ${probe.postStatus}: the client needs a key)`;
  return `   (answers${probe.postStatus ? ` ${probe.postStatus}` : ''}, but not like an MCP endpoint at this path)`;
}

export function bannerLines(proxy: RunningProxy, db: string, opts: { db?: string; label?: string; name: string }, probe: TargetProbe | null): string[] {
  const t = proxy.target;
  const base = clientBase(proxy);
  const lines = [
    `mcptap proxy listening on ${proxy.url}${base !== proxy.url ? ` (every address; on this machine ${base})` : ''}`,
    `  target    ${t.display}${t.schemeAssumed ? ' (no scheme given: http:// assumed)' : ''}${targetLine(probe)}`,
    `  database  ${db}`,
  ];
  if (opts.label) lines.push(`  label     ${opts.label}`);
  lines.push('', 'Point Claude Code at the proxy instead of the server:');
  const [first, second] = connectLines(proxy, opts.name, probe);
  const isSse = (l: string) => l.includes('--transport sse');
  if (t.prefix) {
    // The proxy's root is the target: the client must not add the path again.
    const note = (l: string) => (isSse(l) ? `# legacy HTTP+SSE, if ${t.display} is an SSE endpoint` : `# Streamable HTTP (the proxy's root is ${t.display}: no /mcp after it)`);
    lines.push(`  ${first}   ${note(first)}`, `  ${second}   ${note(second)}`);
  } else {
    lines.push(`  ${first}`, `  ${second}`);
    // A target that serves the model API too (a gateway) records the model's side: mcptap show joins it.
    lines.push(`  ANTHROPIC_BASE_URL=${base} claude    # the model's side too, when the target serves /v1/messages`);
  }
  // Another terminal may not have MCPTAP_DB set: name the database unless it is the built-in default.
  const db_ = opts.db || process.env.MCPTAP_DB ? ['--db', db] : [];
  lines.push('', `Watch live:  ${commandLine('tui', ...db_)}`, `List:        ${commandLine('sessions', ...db_)}`, 'Ctrl-C stops (captures are flushed first).', '');
  return lines;
}
