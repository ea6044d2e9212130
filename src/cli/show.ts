import type { Command } from 'commander';
import { action, dbOption, examples, openStore, printJson } from './common.js';
import { arrow, clockTime, duration, pad, sessionRowJson, summary } from './format.js';
import { describeGateway, gatewayDebugHeaders, routeOfTool } from '../capture/gateway.js';

export function registerShow(program: Command): void {
  program
    .command('show')
    .description("print a session's messages in order")
    .argument('<session>', 'session id or unique id prefix')
    .addOption(dbOption())
    .option('--json', 'print { session, messages } as JSON')
    .option('--exchanges', 'also list the HTTP exchanges (method, URL, status, timing)')
    .addHelpText('after', examples('mcptap show 3f2a', 'mcptap show 3f2a --json | jq \'.messages[] | select(.kind=="error")\''))
    .action(action((id: string, opts: { db?: string; json?: boolean; exchanges?: boolean }) => {
      const store = openStore(opts.db);
      try {
        const session = store.resolveSession(id);
        const g = session.gateway;
        // Through a gateway, each tools/call went to one upstream server (its prefix, or the one selected).
        const upstreamOf = (m: { method: string | null; subject: string | null }) => (g && m.method === 'tools/call' && m.subject ? routeOfTool(g, m.subject)?.server ?? null : null);
        if (opts.json) {
          const messages = [];
          for (const m of store.iterateMessages(session.id)) {
            let payload: unknown = m.payload;
            if (m.kind !== 'non-json' && !m.truncated) {
              try { payload = JSON.parse(m.payload); } catch { /* stored raw */ }
            }
            messages.push({
              seq: m.seq, ts: new Date(m.ts).toISOString(), direction: m.direction, kind: m.kind, id: m.rpcId,
              method: m.method, channel: m.channel, latencyMs: m.latencyMs == null ? null : Math.round(m.latencyMs * 1000) / 1000,
              payload, ...(upstreamOf(m) ? { upstreamServer: upstreamOf(m) } : {}), ...(m.truncated ? { truncated: true } : {}), ...(m.decodeError ? { decodeError: m.decodeError } : {}),
            });
          }
          const out: Record<string, unknown> = { session: sessionRowJson(session), messages };
          if (opts.exchanges) out.exchanges = store.exchanges(session.id);
          printJson(out);
          return 0;
        }
        const w = process.stdout.columns && process.stdout.columns > 60 ? process.stdout.columns : 120;
        const s = session;
        process.stdout.write(`session ${s.id}  ${s.transport}  ${s.target}  ${s.clientInfo?.name ?? '?'} → ${s.serverInfo?.name ?? '?'}${g ? `  ${describeGateway(g)}` : ''}  protocol ${s.protocolVersion ?? '?'}  ${s.messageCount} messages, ${s.errorCount} errors\n`);
        const exchanges = store.exchanges(s.id);
        // A request refused at the HTTP level (a 401, a 406) has no JSON-RPC answer: its row says so.
        const httpStatus = new Map(exchanges.map((e) => [e.id, e.status]));
        if (opts.exchanges) {
          for (const e of exchanges) {
            process.stdout.write(`  ${clockTime(e.startedAt)}  ${pad(e.method, 6)} ${pad(e.url, 40)} ${String(e.status ?? '---')}  ${duration(e.endedAt && e.endedAt - e.startedAt)}${e.error ? '  ' + e.error : ''}${e.aborted ? '  aborted' : ''}${e.rewrite ? '  rewrote ' + e.rewrite : ''}\n`);
            // --gateway-debug: what LiteLLM resolved for this request.
            const debug = gatewayDebugHeaders(e.responseHeaders);
            if (debug.length) process.stdout.write(`      litellm: ${debug.map(([k, v]) => `${k}=${v}`).join('  ')}\n`);
          }
        }
        for (const m of store.iterateMessages(s.id)) {
          const http = m.exchangeId ? httpStatus.get(m.exchangeId) : null;
          const status = m.isError ? (m.errorCode != null ? `err ${m.errorCode}` : 'isError') : http != null && http >= 400 ? `HTTP ${http}` : '';
          const head = `${String(m.seq).padStart(4)} ${clockTime(m.ts)} ${arrow(m)} ${pad(m.kind, 12)} ${pad(m.method ?? '', 26)} ${pad(m.rpcId == null ? '' : String(m.rpcId), 6)} ${pad(duration(m.kind === 'request' ? null : m.latencyMs), 8)} ${pad(status, 9)} `;
          const upstream = upstreamOf(m);
          process.stdout.write(head + pad((upstream ? `→ ${upstream}: ` : '') + summary(m), Math.max(10, w - head.length)) + '\n');
        }
        return 0;
      } finally {
        store.close();
      }
    }));
}
