import type { Exchange, RpcMessage } from '../../model/model.js';
import { LISTEN } from '../../wire/mcp-2026.js';
import { ageAtGiveUp, isStreamExchange, requestFacts, type RequestFacts } from '../requests.js';
import { sessionStreams, type StreamView } from '../streams.js';
import { reqHeader, SessionView } from './context.js';
import { SPECIFIC, type CheckInput, type Finding, type Rule } from './types.js';

// Why a call hung: timeouts, late answers, dropped streams, connections held by streams, sudden slowness.
// Each rule reads the request and stream facts (src/analysis/requests.ts, streams.ts) of one session.

const facts = new WeakMap<CheckInput, { requests: RequestFacts[]; streams: StreamView[] }>();

/** The request and stream facts of a check input, made once per run. */
function factsOf(input: CheckInput) {
  let f = facts.get(input);
  if (!f) {
    const recorded = input.streams ?? [];
    const requests = requestFacts(input.session, input.messages, input.exchanges, recorded);
    f = { requests, streams: sessionStreams(input.session, input.messages, input.exchanges, recorded, requests) };
    facts.set(input, f);
  }
  return f;
}

export const secs = (ms: number) => (ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`);
const what = (r: RequestFacts) => `${r.request.method}${r.request.subject ? ' ' + r.request.subject : ''}`;
const isClaude = (input: CheckInput) => /claude/i.test(input.session.clientInfo?.name ?? '');

/** Streams the server side ended (cleanly, by a reset or an idle timeout) before a request on them had its answer. */
function dropped(input: CheckInput): StreamView[] {
  // A POST that never reached the upstream had no stream to drop: upstream-failure tells it.
  return factsOf(input).streams.filter((s) => s.end != null && s.end !== 'client-closed' && s.end !== 'proxy-stopped' &&
    s.exchange.failure?.kind !== 'upstream-unreachable' &&
    s.inFlightAtClose.some((seq) => isCall(SessionView.of(input).bySeq.get(seq))));
}

/** A client request waiting for its answer; a subscription (2026-07-28) waits for none (see subscriptionDropped). */
const isCall = (m: RpcMessage | undefined) => m?.direction === 'client->server' && m.method !== LISTEN;

/** Requests whose stream the server dropped before the client gave up: the drop is what they show. */
function droppedSeqs(input: CheckInput): Set<number> {
  return new Set(dropped(input).flatMap((s) => s.inFlightAtClose));
}

/** Groups ages that lie within max(1 s, 5 %) of each other: several at one age is a limit, not chance. */
function clusters<T>(items: T[], age: (t: T) => number): T[][] {
  const sorted = [...items].sort((a, b) => age(a) - age(b));
  const out: T[][] = [];
  for (const t of sorted) {
    const c = out.at(-1);
    if (c && age(t) - age(c[0]) <= Math.max(1000, 0.05 * age(c[0]))) c.push(t);
    else out.push([t]);
  }
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : 0;
};

function limitFix(input: CheckInput, progress: boolean): string {
  const client = isClaude(input)
    ? 'raise Claude Code\'s limit (MCP_TOOL_TIMEOUT=<ms> in its environment)'
    : 'raise the client\'s request timeout (the SDK: `timeout` in the request options)';
  return progress
    ? `The server was reporting progress: have the client reset its limit on progress (the SDK: \`resetTimeoutOnProgress: true\`); if it already does, the server went quiet for longer than the limit, so send progress more often; or ${client}.`
    : `Make the tool answer sooner, or send notifications/progress while it works (the client must ask with a progressToken), or ${client}.`;
}

/** Without a reason that says so, a lone cancellation this late is taken for a limit, not a person. */
const LONE_TIMEOUT_MS = 30_000;

function timedOut(r: RequestFacts): boolean {
  if (r.gaveUpHow !== 'cancelled') return ageAtGiveUp(r)! >= LONE_TIMEOUT_MS;
  let reason: unknown;
  try {
    reason = JSON.parse(r.cancel!.payload)?.params?.reason;
  } catch {
    reason = /timed? ?out/i.test(r.cancel!.payload) ? 'timed out' : undefined;
  }
  if (typeof reason === 'string' && reason.trim()) return /time[sd]? ?out|-32001/i.test(reason);
  return ageAtGiveUp(r)! >= LONE_TIMEOUT_MS;
}

export const requestTimeout: Rule = {
  id: 'request-timeout',
  cause: 'reachability',
  confidence: SPECIFIC.likely,
  description: 'Requests the client gave up on (cancelled, or closed the stream) with no answer: a timeout, with the client\'s limit when several die at the same age.',
  check(input) {
    const v = SessionView.of(input);
    const lost = droppedSeqs(input);
    const abandoned = factsOf(input).requests.filter((r) => r.request.direction === 'client->server' && r.gaveUpAt != null && !r.answer && !lost.has(r.request.seq));
    // A person cancelling (Esc in Claude Code) is no timeout: one cancellation counts when it says it timed
    // out, or came after long enough that a limit is the likelier reason; several at one age always do.
    return clusters(abandoned, (r) => ageAtGiveUp(r)!).filter((g) => g.length > 1 || timedOut(g[0])).map((group) => {
      const ages = group.map((r) => ageAtGiveUp(r)!);
      const limit = median(ages);
      const withProgress = group.filter((r) => r.progress.some((p) => p.ts <= r.gaveUpAt!));
      const first = group[0];
      const how = first.gaveUpHow === 'cancelled' ? 'cancelled' : 'closed the stream of';
      const names = [...new Set(group.map(what))].map((n) => { const k = group.filter((r) => what(r) === n).length; return k > 1 ? `${n} (×${k})` : n; }).join(', ');
      const title = group.length > 1
        ? `${group.length} requests abandoned at about ${secs(limit)} with no answer: the client's limit is about ${secs(limit)}`
        : `${what(first)} abandoned after ${secs(limit)} with no answer (the client timed out)`;
      const progress = withProgress.length
        ? `Progress notifications were flowing (${withProgress.map((r) => r.progress.length).reduce((a, b) => a + b, 0)}, the last ${secs(Math.min(...withProgress.map((r) => r.gaveUpAt! - r.progress.filter((p) => p.ts <= r.gaveUpAt!).at(-1)!.ts)))} before it gave up): the server was working, the client's limit did not reset on them.`
        : 'The server sent no progress notifications while it worked.';
      return v.finding('request-timeout', 'error', title, {
        messageSeqs: group.flatMap((r) => [r.request.seq, ...(r.cancel ? [r.cancel.seq] : [])]).sort((a, b) => a - b),
        exchangeIds: [...new Set(group.map((r) => r.waitsOn).filter((x): x is string => !!x))],
      },
      `The client ${how} ${group.length > 1 ? `each request (${names})` : names} ${secs(limit)} after sending it${first.gaveUpHow === 'cancelled' ? ' (notifications/cancelled)' : ''}, and no answer had come. ${group.length > 1 ? 'They all died at the same age: that is a timeout in the client (or a gateway in between), not the server failing. ' : ''}${progress}`,
      limitFix(input, withProgress.length > 0));
    });
  },
};

export const lateAnswer: Rule = {
  id: 'late-answer',
  cause: 'reachability',
  confidence: SPECIFIC.likely,
  description: 'Answers that came after the client had given up: the server was slower than the client\'s limit, and the answer was thrown away.',
  check(input) {
    const v = SessionView.of(input);
    return factsOf(input).requests.filter((r) => r.late && r.request.direction === 'client->server').map((r) => {
      const took = r.answer!.ts - r.request.ts;
      const limit = ageAtGiveUp(r)!;
      const seen = r.unseen
        ? `The stream it was due on had closed ${secs(r.answer!.ts - r.gaveUpAt!)} before: the client never saw it.`
        : `The client had stopped waiting for it, so it threw the answer away (the SDK logs an unknown message id).`;
      return v.finding('late-answer', 'error',
        `${what(r)} answered after ${secs(took)}, ${secs(took - limit)} after the client gave up at ${secs(limit)}`,
        { messageSeqs: [r.request.seq, ...(r.cancel ? [r.cancel.seq] : []), r.answer!.seq].sort((a, b) => a - b), exchangeIds: [...new Set([r.waitsOn, r.answer!.exchangeId].filter((x): x is string => !!x))] },
        `The server took ${secs(took)}; the client ${r.gaveUpHow === 'cancelled' ? 'cancelled' : 'closed the stream'} at ${secs(limit)}, its limit. ${seen}${r.cancel ? ' The server went on with the work after the cancellation.' : ''}`,
        `The limit is ${secs(limit)}: make the tool finish within it or raise the limit above ${secs(took)} (${isClaude(input) ? 'MCP_TOOL_TIMEOUT' : 'the client\'s request timeout'}); a server should stop work on notifications/cancelled.`);
    });
  },
};

/** The GET with Last-Event-ID the client opened after a stream dropped, if any. */
function resumptionOf(input: CheckInput, s: StreamView): Exchange | undefined {
  return input.exchanges.find((e) => e.method === 'GET' && e.startedAt >= s.closedAt! && reqHeader(e, 'last-event-id') != null);
}

export const streamDropped: Rule = {
  id: 'stream-dropped',
  cause: 'reachability',
  confidence: SPECIFIC.certain,
  description: 'A stream the server side ended while requests waited on it; whether the client resumed (Last-Event-ID) and the server replayed what was missed.',
  check(input) {
    const v = SessionView.of(input);
    const bySeq = v.bySeq;
    const out: Finding[] = [];
    for (const s of dropped(input)) {
      const waiting = s.inFlightAtClose.filter((seq) => isCall(bySeq.get(seq)));
      const names = waiting.map((seq) => { const m = bySeq.get(seq)!; return `${m.method}${m.subject ? ' ' + m.subject : ''}`; }).join(', ');
      const how = s.end === 'reset' ? 'was reset' : s.end === 'idle-timeout' ? `was ended after ${secs(s.longestSilenceMs)} of silence (an idle timeout)` : 'was ended by the server';
      const label = s.kind === 'post-sse' ? 'the POST\'s event stream' : s.kind === 'post' ? 'the POST\'s connection' : s.kind === 'standalone-get' ? 'the standalone GET stream' : s.kind === 'legacy-sse' ? 'the SSE stream' : s.kind === 'websocket' ? 'the WebSocket' : 'the stdio server';
      const head = `${label} ${how} with ${waiting.length} request${waiting.length > 1 ? 's' : ''} in flight (${names})`;
      const resumable = s.kind === 'post-sse' || s.kind === 'post' || s.kind === 'standalone-get';
      const resume = resumable ? resumptionOf(input, s) : undefined;
      const answers = waiting.map((seq) => bySeq.get(bySeq.get(seq)!.correlatedSeq ?? -1)).filter((a) => a != null && a.ts > s.closedAt!);
      const ev = { messageSeqs: [...waiting, ...answers.map((a) => a!.seq)].sort((a, b) => a - b), exchangeIds: [s.exchangeId, ...(resume ? [resume.id] : [])] };
      const idle = s.end === 'idle-timeout' ? ' Keep-alives (an SSE comment every 15 s) keep idle timeouts away.' : '';
      if (!resume) {
        out.push(v.finding('stream-dropped', 'error', `${head}; the client did not resume`, ev,
          resumable
            ? `No GET with Last-Event-ID followed, so the answers${answers.length ? '' : ' never came'}: the requests hung until the client gave up.${s.lastEventAt == null ? ' The stream had sent no event with an id, so the client had nothing to resume from.' : ''}`
            : `This transport cannot resume a stream: the answers were lost with it.`,
          (resumable
            ? 'The server should give its events ids (an event store) so that a client can resume with GET and Last-Event-ID (the SDK client does when it saw an id), and not close a stream with a request in flight.'
            : 'Find why the server side ended it (its log, a gateway timeout); the client must retry the calls.') + idle));
        continue;
      }
      const replayed = answers.filter((a) => a!.exchangeId !== s.exchangeId);
      if (replayed.length < waiting.length) {
        out.push(v.finding('stream-dropped', 'error', `${head}; the client resumed from ${reqHeader(resume, 'last-event-id')} but the server did not replay the answers`, ev,
          `The client reconnected with Last-Event-ID ${reqHeader(resume, 'last-event-id')}, and ${waiting.length - replayed.length} answer${waiting.length - replayed.length > 1 ? 's' : ''} never came on it.`,
          'The server must keep the events of its streams (an event store) and send what came after Last-Event-ID, answers to requests in flight included.' + idle));
      } else {
        out.push(v.finding('stream-dropped', 'info', `${head}; the client resumed from ${reqHeader(resume, 'last-event-id')} and the server replayed the answers`, ev,
          `The client reconnected with Last-Event-ID ${secs(resume.startedAt - s.closedAt!)} after the drop, and the answers came on the new stream: nothing was lost, the call took longer.`,
          'Nothing was lost. If the drops are not on purpose (the server polling its clients), find what ends the streams.' + idle));
      }
    }
    return out;
  },
};

/**
 * A `subscriptions/listen` stream (2026-07-28) the server or a gateway ended while the client was still there.
 * A subscription has no answer while it lasts; it ends normally when the client closes it, or when the server
 * says so (a final `subscriptions/listen` result). Ended any other way, the client hears of no list change
 * from then on (there is no resuming in this revision): it must listen again.
 */
export const subscriptionDropped: Rule = {
  id: 'subscription-dropped',
  cause: 'reachability',
  confidence: SPECIFIC.certain,
  description: 'A subscriptions/listen stream (2026-07-28) the server or a gateway ended without a final result while the client was still there: list-changed notifications are lost from then on.',
  check(input) {
    const v = SessionView.of(input);
    const out: Finding[] = [];
    for (const s of factsOf(input).streams) {
      if (s.end == null || s.end === 'client-closed' || s.end === 'proxy-stopped' || s.exchange.failure?.kind === 'upstream-unreachable') continue;
      const listen = s.inFlightAtClose.map((seq) => v.bySeq.get(seq)).find((m) => m?.method === LISTEN && m.direction === 'client->server');
      if (!listen) continue;
      const later = input.messages.some((m) => m.direction === 'client->server' && m.ts > s.closedAt!);
      const by = s.end === 'idle-timeout' ? `after ${secs(s.longestSilenceMs)} of silence (an idle timeout, often a gateway's)` : s.end === 'reset' ? 'by the connection breaking mid-stream' : 'by the server side';
      // The client was still there (it did not close the stream): what it subscribed to is lost from then on.
      out.push(v.finding('subscription-dropped', 'error',
        `the subscription ${JSON.stringify(listen.rpcId)} (subscriptions/listen) was ended ${by} without a final result${later ? ', while the client went on' : ''}`,
        { messageSeqs: [listen.seq], exchangeIds: [s.exchangeId] },
        `A subscription ends normally when the client closes its stream, or when the server answers the listen request before closing. This one just stopped: the client hears of no tools/prompts/resources list change from then on (${later ? 'it kept sending requests after the drop' : 'nothing came from the client after it'}).`,
        `Find what ends the stream (the server's log; a gateway or load balancer timeout on long responses: send keep-alives or raise it). A server that closes on purpose should answer the listen request first; the client should listen again when the stream drops.`,
        // The stream as a whole: a cut it suffered is this, told once.
        { claims: v.exchangeClaims(s.exchange) }));
    }
    return out;
  },
};

/** How soon after a stream freed a connection a POST started on it for it to have been waiting for it. */
const QUEUED_MS = 250;

export const connectionPool: Rule = {
  id: 'connection-held-by-stream',
  cause: 'transport',
  confidence: SPECIFIC.likely,
  description: 'POSTs that waited for a connection a long-lived GET stream held: the client\'s connection pool was full of streams.',
  check(input) {
    const v = SessionView.of(input);
    const http = input.exchanges.filter((e) => e.kind === 'http' && e.clientAddress);
    const queued = new Map<Exchange, Exchange[]>();
    const streams = http.filter((s) => s.method === 'GET' && isStreamExchange(s));
    for (const p of http) {
      if (p.method !== 'POST') continue;
      // Started on the very connection a GET stream let go of, at once: it was waiting for it. A client
      // with a free connection would have sent it on that one long before.
      const holder = streams.find((s) => s.clientAddress === p.clientAddress &&
        s.endedAt != null && s.endedAt <= p.startedAt && p.startedAt - s.endedAt <= QUEUED_MS);
      if (holder) queued.set(holder, [...(queued.get(holder) ?? []), p]);
    }
    return [...queued].map(([holder, posts]) => {
      const busy = new Set(http.filter((e) => e.clientAddress !== holder.clientAddress && e.startedAt < holder.endedAt! && (e.endedAt == null || e.endedAt >= holder.endedAt!)).map((e) => e.clientAddress)).size;
      const standalone = input.session.transport !== 'sse';
      return v.finding('connection-held-by-stream', 'error',
        `${posts.length} POST${posts.length > 1 ? 's' : ''} waited for the connection ${standalone ? 'the standalone GET stream' : 'the SSE stream'} held for ${secs(holder.endedAt! - holder.startedAt)}`,
        { messageSeqs: posts.flatMap((p) => v.seqsOf(p.id)), exchangeIds: [holder.id, ...posts.map((p) => p.id)] },
        `${posts.length > 1 ? 'The POSTs' : 'The POST'} started on the connection the stream had held, ${Math.round(posts[0].startedAt - holder.endedAt!)} ms after it ended${busy ? `, while the client's other ${busy} connection${busy > 1 ? 's were' : ' was'} busy too` : ', and the client had opened no other connection meanwhile'}: its connection pool was full, and its requests queued behind a stream that does not end on its own.`,
        'Give the client more connections per host than it holds streams (undici/fetch: `connections`, node:http Agent: `maxSockets`), use HTTP/2, or have the client not open the standalone GET stream; a gateway can refuse the GET with 405.');
    });
  },
};

/** A tool "usually" under this, and a call of it over SUDDEN_MS, is sudden slowness worth a finding. */
const USUAL_MS = 1000;
const SUDDEN_MS = 60_000;
/** Calls of a tool it takes to know what is usual for it. */
const HISTORY = 3;

export const suddenlySlow: Rule = {
  id: 'tool-suddenly-slow',
  cause: 'tools',
  confidence: SPECIFIC.likely,
  description: 'A tool whose calls usually take under a second taking over a minute (from the session\'s own history), finished or still running.',
  check(input, opts) {
    const v = SessionView.of(input);
    const byTool = new Map<string, Array<{ seq: number; ms: number; done: boolean; answer: number | null }>>();
    const now = opts.live ? opts.now : undefined;
    for (const m of input.messages) {
      if (m.kind !== 'request' || m.method !== 'tools/call' || m.direction !== 'client->server' || !m.subject) continue;
      const answer = m.correlatedSeq != null ? v.bySeq.get(m.correlatedSeq) : undefined;
      const ms = answer ? answer.ts - m.ts : now != null ? now - m.ts : null;
      if (ms == null) continue;
      const list = byTool.get(m.subject) ?? [];
      list.push({ seq: m.seq, ms, done: !!answer, answer: answer?.seq ?? null });
      byTool.set(m.subject, list);
    }
    const out: Finding[] = [];
    for (const [tool, calls] of byTool) {
      for (let i = HISTORY; i < calls.length; i++) {
        const c = calls[i];
        // Only a call over a minute can be sudden: the history's median is taken for those alone (a long
        // session has thousands of calls, and a median over every call's history was quadratic).
        if (c.ms < SUDDEN_MS) continue;
        const before = calls.slice(0, i).filter((x) => x.done);
        if (before.length < HISTORY) continue;
        const usual = median(before.map((x) => x.ms));
        if (usual >= USUAL_MS) continue;
        out.push(v.finding('tool-suddenly-slow', c.done ? 'warning' : 'error',
          `tools/call ${tool} ${c.done ? 'took' : 'has been running for'} ${secs(c.ms)}; its ${before.length} calls before took ${secs(usual)} (median)`,
          { messageSeqs: [c.seq, ...(c.answer != null ? [c.answer] : [])], exchangeIds: [v.bySeq.get(c.seq)?.exchangeId].filter((x): x is string => !!x) },
          `The same tool in the same session usually answers in ${secs(usual)}; this call ${c.done ? 'took' : 'is at'} ${Math.round(c.ms / Math.max(usual, 1))} times that. The request reached the server (the proxy forwarded it), so the time is the server's or what it waits on.`,
          'Look at what the tool waited on at that moment (a lock, an upstream API, a cold cache, rate limiting) in the server\'s log; the proxy\'s timestamps bound when the request arrived and when the answer left.'));
      }
    }
    return out;
  },
};

export const STREAM_RULES: Rule[] = [streamDropped, subscriptionDropped, connectionPool, requestTimeout, lateAnswer, suddenlySlow];
