import type { Command } from 'commander';
import { exchangeTrouble, rewritesText } from '../model/facts.js';
import { filteredSeqs } from '../store/filtered.js';
import { action, dbOption, examples, printJson, printText, rawJson } from './common.js';
import { arrow, clockTime, duration, isoTime, pad, sessionRowJson, summary } from './format.js';
import { openSession } from './source.js';
import { targetText } from '../model/target-text.js';
import { withErrors } from '../analysis/checks/error-count.js';

import { conversationJson, conversationLines } from './conversation-format.js';
import { TurnReader } from '../store/turns-read.js';
import { ContextCostReader } from '../store/context-read.js';
import { describeGateway, gatewayDebugHeaders, routeOfTool } from '../capture/gateway.js';
import { requestFacts } from '../analysis/requests.js';
import { sessionStreams } from '../analysis/streams.js';
import { requestsJson, streamLines, streamsJson } from './streams-format.js';
import { revisionOf } from '../analysis/revision.js';
import { roundTrips } from '../analysis/round-trips.js';
import { groupingText, peerText } from './revision-format.js';
import { jsonDepth, STRINGIFY_DEPTH } from '../wire/json-depth.js';

export const FILTER_HELP = "the timeline's filter language: method:tools/call tool:query dir:c2s|s2c kind:error status:>=400 latency:>500ms, free text, !negation; terms ANDed";

export function registerShow(program: Command): void {
  program
    .command('show')
    .description("print a session's messages in order (a model-api conversation: its turns, each tool use with its MCP call)")
    .argument('<session>', 'session id or unique id prefix, or a .jsonl recording')
    .addOption(dbOption())
    .option('--json', 'print { session, messages } as JSON (each message with its exchangeId and correlatedSeq)')
    .option('--exchanges', 'also list the HTTP exchanges (id, method, URL, status, timing)')
    .option('--streams', 'list the streams (event-stream responses, the GET stream, WebSockets, stdio) with their facts, and the requests that hung on them, instead of the messages')
    .option('--filter <terms>', `only the messages that match ${FILTER_HELP}`)
    .addHelpText('after', examples(
      'mcptap show 3f2a',
      "mcptap show 3f2a --filter 'tool:query kind:error'",
      'mcptap show recordings/everything-streamable-http.jsonl --exchanges',
      'mcptap show 3f2a --streams',
      'mcptap show 3f2a --json | jq \'.messages[] | select(.kind=="error")\'',
      'mcptap show 9c1d --json | jq \'.turns[].toolUses[] | select(.mcpCall == null)\'',
    ))
    .action(action((id: string, opts: { db?: string; json?: boolean; exchanges?: boolean; streams?: boolean; filter?: string }) => {
      const { store, session: opened } = openSession(id, opts.db);
      try {
        // Its error count is what `mcptap check` counts (root causes), as in the sessions list.
        const [s] = withErrors(store, [opened]);
        if (s.transport === 'model-api') {
          const reader = new TurnReader(store);
          const conv = reader.conversation(s);
          const costs = new ContextCostReader(reader).costs(conv.turns);
          if (opts.json) printJson(conversationJson(conv, costs));
          else printText(conversationLines(conv, process.stdout.isTTY ? Math.max(60, process.stdout.columns ?? 120) : 120, costs).join('\n') + '\n');
          return 0;
        }
        const g = s.gateway;
        // Through a gateway, each tools/call went to one upstream server (its prefix, or the one selected).
        const upstreamOf = (m: { method: string | null; subject: string | null }) => (g && m.method === 'tools/call' && m.subject ? routeOfTool(g, m.subject)?.server ?? null : null);
        const keep = filteredSeqs(store, s.id, opts.filter);
        const messages = () => [...store.iterateMessages(s.id)].filter((m) => !keep || keep.has(m.seq));
        const exchanges = store.exchanges(s.id);
        const streamsOf = () => {
          const all = [...store.iterateMessages(s.id)];
          const recorded = store.streams(s.id);
          const requests = requestFacts(s, all, exchanges, recorded);
          const streams = sessionStreams(s, all, exchanges, recorded, requests);
          return { streams: streamsJson(streams), requests: requestsJson(requests), lines: () => streamLines(streams, requests, new Map(all.map((m) => [m.seq, m])), Date.now()) };
        };
        if (opts.json) {
          const all = [...store.iterateMessages(s.id)];
          const trips = roundTrips(all);
          const out: Record<string, unknown> = { session: { ...sessionRowJson(s, store.spans().get(s.id)), revision: revisionOf(s, all) }, messages: messages().map((m) => {
            let payload: unknown = m.payload;
            if (m.kind !== 'non-json' && !m.truncated) {
              try {
                const parsed: unknown = JSON.parse(m.payload);
                // Too deep for JSON.stringify: printed as stored, which is the same JSON.
                payload = jsonDepth(m.payload) > STRINGIFY_DEPTH ? rawJson(m.payload) : parsed;
              } catch { /* stored raw */ }
            }
            return {
              seq: m.seq, ts: new Date(m.ts).toISOString(), direction: m.direction, kind: m.kind, id: m.rpcId,
              method: m.method, subject: m.subject, channel: m.channel, exchangeId: m.exchangeId, correlatedSeq: m.correlatedSeq,
              latencyMs: m.latencyMs == null ? null : Math.round(m.latencyMs * 1000) / 1000,
              ...(m.sseEventId != null ? { sseEventId: m.sseEventId } : {}),
              ...(trips.has(m.seq) ? { roundTrip: trips.get(m.seq) } : {}),
              payload, ...(upstreamOf(m) ? { upstreamServer: upstreamOf(m) } : {}), ...(m.truncated ? { truncated: true } : {}), ...(m.decodeError ? { decodeError: m.decodeError } : {}),
            };
          }) };
          if (opts.exchanges) out.exchanges = exchanges;
          if (opts.streams) {
            const { streams, requests } = streamsOf();
            Object.assign(out, { streams, requests });
          }
          printJson(out);
          return 0;
        }
        // A terminal's width; piped into a file or another program, summaries are not cut at all.
        const width = process.stdout.isTTY ? Math.max(60, process.stdout.columns ?? 120) : Infinity;
        const all = [...store.iterateMessages(s.id)];
        const rev = revisionOf(s, all);
        // Which revision was spoken and who chose it: a handshake's in a word on the header line.
        const chosen = rev.how === 'initialize' ? ` (${rev.chosenBy})` : '';
        printText(`session ${s.id}  ${s.transport}  ${targetText(s)}  ${s.clientInfo?.name ?? '?'} → ${s.serverInfo?.name ?? '?'}${g ? `  ${describeGateway(g)}` : ''}  protocol ${s.protocolVersion ?? '?'}${chosen}  ${s.messageCount} messages, ${s.errorCount} errors  started ${isoTime(s.startedAt)}\n`);
        // A stateless session (2026-07-28) repeats its identity on every message: said once here, folded out of the lines below.
        if (rev.how === 'per-request') printText(`  revision ${rev.version ?? '?'}: ${rev.chosenBy}; ${peerText(s)}\n`);
        const grouping = groupingText(s);
        if (grouping) printText(`  ${grouping}\n`);
        const trips = roundTrips(all);
        // A request refused at the HTTP level (a 401, a 406) has no JSON-RPC answer: its row says so.
        const httpStatus = new Map(exchanges.map((e) => [e.id, e.status]));
        // A session that carried no JSON-RPC message (a legacy SSE client's GET refused or left hanging) is its exchanges.
        if (!all.length && exchanges.length && !opts.exchanges && !opts.streams) printText(`  no JSON-RPC message; its ${exchanges.length} HTTP exchange${exchanges.length > 1 ? 's' : ''}:\n`);
        if (opts.exchanges || (!all.length && !opts.streams)) {
          for (const e of exchanges) {
            printText(`  ${e.id}  ${clockTime(e.startedAt)}  ${pad(e.method, 6)} ${pad(e.url, 40)} ${String(e.status ?? '---')}  ${duration(e.endedAt && e.endedAt - e.startedAt)}${exchangeTrouble(e) ? '  ' + exchangeTrouble(e) : ''}${e.rewrites.length ? '  rewrote ' + rewritesText(e.rewrites) : ''}\n`);
            // --gateway-debug: what LiteLLM resolved for this request.
            const debug = gatewayDebugHeaders(e.responseHeaders);
            if (debug.length) printText(`      litellm: ${debug.map(([k, v]) => `${k}=${v}`).join('  ')}\n`);
          }
        }
        if (opts.streams) {
          printText(streamsOf().lines().map((l) => (l ? '  ' + l : l)).join('\n') + '\n');
          return 0;
        }
        for (const m of all) {
          if (keep && !keep.has(m.seq)) continue;
          const http = m.exchangeId ? httpStatus.get(m.exchangeId) : null;
          const status = m.isError ? (m.errorCode != null ? `err ${m.errorCode}` : 'isError') : http != null && http >= 400 ? `HTTP ${http}` : '';
          const head = `${String(m.seq).padStart(4)} ${clockTime(m.ts)} ${arrow(m)} ${pad(m.kind, 12)} ${pad(m.method ?? '', 26)} ${pad(m.rpcId == null ? '' : String(m.rpcId), 6)} ${pad(duration(m.kind === 'request' ? null : m.latencyMs), 8)} ${pad(status, 9)} `;
          const upstream = upstreamOf(m);
          const trip = trips.get(m.seq);
          const round = !trip ? '' : trip.rounds != null ? `  [round ${trip.round} of #${trip.first}: ${trip.rounds} round trips, ${duration(trip.totalMs ?? null)} in all]` : `  [round ${trip.round} of #${trip.first}]`;
          const text = (upstream ? `→ ${upstream}: ` : '') + summary(m) + round;
          printText(head + (width === Infinity ? text : pad(text, Math.max(10, width - head.length - 1)).trimEnd()) + '\n');
        }
        return 0;
      } finally {
        store.close();
      }
    }));
}
