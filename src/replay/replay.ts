import { CaptureStore } from '../store/read.js';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Exchange, HeaderList, RpcId, Session, Transport } from '../model/model.js';
import { UsageError } from '../errors.js';
import { startProxy } from '../proxy/server.js';
import { CallMatcher, recordedCalls } from './match.js';
import { Expectations, LiveState, type LiveRequest } from './live.js';
import type { Recording } from './recording.js';
import { buildScript, type Step } from './steps.js';
import { ToolNames } from './tool-names.js';
import type { ToolRename } from '../analysis/tools.js';
import { HeaderPlan, LegacySseWire, REDACTED, StreamableWire, UpstreamError, WebSocketWire, type Wire, type WireBase } from './wire.js';
import { isSecretHeader } from '../capture/redact.js';

export type ReplayTransport = 'http' | 'sse' | 'ws';

export interface ReplayOptions {
  recording: Recording;
  /** Origin with an optional path prefix, as for the proxy; recorded request paths are appended. */
  target: string;
  /** Defaults to the recorded transport. */
  transport?: ReplayTransport;
  /**
   * The MCP endpoint's path on the target, instead of the recorded one (the Streamable HTTP endpoint, the
   * legacy SSE stream or the WebSocket URL): a session recorded at a server's /mcp replayed at LiteLLM's /mcp/.
   */
  endpoint?: string;
  /** `wait` (default): send each step once what the server sent before it has arrived. `original`: keep the recorded pacing. */
  timing?: 'wait' | 'original';
  /** Capture database for the replayed session; null keeps it in memory. */
  db?: string | null;
  label?: string;
  /** Added to (or replacing) every request's headers, e.g. credentials that were redacted in the recording. */
  headers?: HeaderList;
  /** How long to wait for an answer or message the recorded server sent. */
  timeoutMs?: number;
  insecure?: boolean;
  onWarning?: (message: string) => void;
  /** Told what the replay waits for, once a wait has lasted a second. */
  onWaiting?: (message: string) => void;
  /**
   * Stop when the server refuses `initialize` (an HTTP error status): no session started, so what comes
   * after cannot be answered (resend: the one message the user wants to see answered).
   */
  stopOnRefusedHandshake?: boolean;
}

export interface ReplayResult {
  /** The replayed session as captured, or null when nothing was captured. */
  session: Session | null;
  /** Steps taken: POST bodies or frames, answers to server requests, the GET stream, DELETE. */
  sent: number;
  /** Server→client requests answered with a recorded client answer. */
  answered: number;
  /** Things the recorded server sent that the live one did not, within the timeout. */
  missing: string[];
  /** Tools the live server listed under another name (a gateway's prefix added or gone), called by that name. */
  renamed: ToolRename[];
}

const TRANSPORTS: Record<ReplayTransport, Transport> = { http: 'streamable-http', sse: 'sse', ws: 'websocket' };

/**
 * Re-sends the client side of a recorded session to a live server as a new MCP session, through an
 * in-process proxy so the run is captured exactly like live traffic. Each step waits until the live
 * server has sent what the recorded one had sent before it (or, with `timing: original`, for its
 * recorded moment); server requests are answered at the recorded point with the recorded answers.
 */
export async function replaySession(opts: ReplayOptions): Promise<ReplayResult> {
  const rec = opts.recording;
  if (rec.session.transport === 'http') throw new UsageError(`session ${rec.session.id} is plain HTTP, not an MCP session; nothing to replay`);
  // A stdio recording has no HTTP of its own: its messages go to the target over Streamable HTTP unless told.
  const transport = opts.transport ? TRANSPORTS[opts.transport] : rec.session.transport === 'stdio' ? 'streamable-http' : rec.session.transport;
  const script = buildScript(rec, transport);
  const warn = opts.onWarning ?? (() => {});
  for (const s of script.skipped) warn(`not replayed: ${s}`);
  if (!script.steps.some((s) => s.kind === 'send')) throw new UsageError(`session ${rec.session.id} has no client messages to replay`);
  const timeoutMs = opts.timeoutMs ?? 10_000;

  const proxy = await startProxy({ target: opts.target, port: 0, db: opts.db ?? null, label: opts.label ?? `replay of ${rec.session.id}`, insecure: opts.insecure, onWarning: warn });
  const sessions: Session[] = [];
  proxy.engine.hub.on('session', (s) => {
    if (!sessions.some((x) => x.id === s.id)) sessions.push(s);
  });

  const live = new LiveState();
  const names = new ToolNames(rec);
  const sendTarget = (e: Exchange) => ({ path: opts.endpoint ?? e.url, headers: e.requestHeaders });
  const matcher = new CallMatcher(recordedCalls(rec, 'server->client'));
  // Answer steps still to come, per method: a server request beyond these is answered at once.
  const scheduled = new Map<string, number>();
  for (const s of script.steps) if (s.kind === 'answer') scheduled.set(s.method, (scheduled.get(s.method) ?? 0) + 1);
  const background: Promise<unknown>[] = [];
  /** Set once the last step is done: a server request from then on is left unanswered, as a leaving client leaves it. */
  let ending = false;
  let answered = 0;
  let wire: Wire | null = null;
  const same = transport === rec.session.transport;

  const answer = async (req: LiveRequest, exchange: Exchange | null): Promise<void> => {
    const call = matcher.match(req.method, req.params);
    const reply = call?.response
      ? { ...call.response.value, id: req.id }
      : { jsonrpc: '2.0', id: req.id, error: { code: -32601, message: `mcptap replay: the recording has no client answer to ${req.method}` } };
    if (call?.response) answered++;
    const recordedEx = exchange ?? (call?.response?.message.exchangeId ? rec.exchanges.find((e) => e.id === call.response!.message.exchangeId) ?? null : null);
    const sent = await wire!.send(JSON.stringify(reply), recordedEx && same && recordedEx.kind === 'http' ? sendTarget(recordedEx) : null);
    background.push(sent.done);
  };

  // A multi round-trip retry (2026-07-28) carries the requestState the server minted for it: this run's, not the recording's.
  let liveState: string | null = null;
  const withLiveState = (text: string): string => {
    const recorded = liveState ? /"requestState"\s*:\s*("(?:[^"\\]|\\.)*")/.exec(text) : null;
    return recorded ? text.replace(recorded[1], JSON.stringify(liveState)) : text;
  };
  const agent = new http.Agent({ keepAlive: true });
  const base: WireBase = {
    host: '127.0.0.1',
    port: proxy.port,
    agent,
    headers: new HeaderPlan(opts.headers ?? [], warn),
    handlers: {
      warn,
      message: (value) => {
        for (const m of Array.isArray(value) ? value : [value]) {
          const v = m as Record<string, unknown>;
          if (!v || typeof v !== 'object') continue;
          names.learn(v);
          if (typeof v.method === 'string' && 'id' in v) {
            live.request({ id: v.id, method: v.method, params: v.params });
            // More of these than the recording answers later: answer now, as the recorded client would have.
            // Not once the replay is ending: its client is leaving, and an answer begun now would be cut.
            if (!ending && live.pending(v.method) > (scheduled.get(v.method) ?? 0)) {
              background.push(answer(live.take(v.method)!, null).catch((e: Error) => warn(`answering ${v.method}: ${e.message}`)));
            }
          } else if (typeof v.method === 'string') live.count(v.method);
          else if ('id' in v) {
            live.answer(v.id);
            const result = v.result as { protocolVersion?: unknown; requestState?: unknown } | undefined;
            if (typeof result?.requestState === 'string') liveState = result.requestState;
            if (wire instanceof StreamableWire && typeof result?.protocolVersion === 'string') wire.noteProtocolVersion(result.protocolVersion);
          }
        }
      },
    },
  };

  const connection = script.connection ? sendTarget(script.connection) : null;
  const endpoint = opts.endpoint ? { path: opts.endpoint, headers: [] as HeaderList } : null;
  if (transport === 'streamable-http') wire = new StreamableWire(base, opts.endpoint ?? '/mcp');
  else if (transport === 'sse') wire = new LegacySseWire(base, connection ?? endpoint, timeoutMs);
  else wire = new WebSocketWire(base, connection ?? endpoint);
  const w = wire;

  const missing: string[] = [];
  let failed = false;
  let sent = 0;
  let reached = false;
  let fatal: Error | null = null;
  // Bounds a wait without keeping the process alive once the replay is over.
  const atMost = (p: Promise<unknown>) => Promise.race([p, sleep(timeoutMs, undefined, { ref: false })]);
  /** Runs one step; resolves once the response head is in (what a client waits for before going on). */
  const run = async (step: Step): Promise<void> => {
    if (step.kind === 'stream') return w.openStream(sendTarget(step.exchange));
    if (step.kind === 'delete') return w.remove(sendTarget(step.exchange));
    if (step.kind === 'answer') {
      // Counted as scheduled while it waits, so the request it waits for is left to it.
      const req = await live.waitFor(step.method, timeoutMs);
      scheduled.set(step.method, (scheduled.get(step.method) ?? 1) - 1);
      if (!req) {
        missing.push(`a ${step.method} request from the server, to answer`);
        return;
      }
      return answer(req, step.exchange);
    }
    for (const r of step.requests) live.sent(r.id);
    const res = await w.send(withLiveState(names.rewrite(step.text)), step.exchange && step.exchange.kind === 'http' ? sendTarget(step.exchange) : null);
    reached = true;
    if (opts.stopOnRefusedHandshake && res.status != null && res.status >= 400 && step.requests.some((r) => r.method === 'initialize')) {
      fatal ??= new UsageError(refusedHandshake(res.status, opts.target, step.exchange?.requestHeaders ?? [], opts.headers ?? []));
    }
    // A POST whose own response has ended brings no more answers: the requests it carried are done.
    background.push(res.done.then((settled) => {
      if (settled) for (const r of step.requests) live.answer(r.id);
    }));
  };

  try {
    await w.start().catch((e: Error) => {
      throw new UsageError(e instanceof UpstreamError ? `cannot reach ${opts.target}: ${e.message}` : `cannot open the ${transport} session at ${opts.target}: ${e.message}`);
    });
    const expect = new Expectations(rec, live, timeoutMs, missing, opts.onWaiting);
    const t0 = performance.now();
    const first = script.steps[0].ts;
    let initId: RpcId | null = null;
    for (const step of script.steps) {
      if (opts.timing === 'original') {
        // Recorded pacing, but nothing can go before the live session exists.
        if (initId != null) await expect.answerTo(initId);
        const due = step.ts - first - (performance.now() - t0);
        if (due > 0) await sleep(due);
      } else await expect.before(step.pos);
      // A target that cannot be reached at all is a wrong --target, not a finding about the server.
      const done = run(step).catch((e: Error) => {
        if (e instanceof UpstreamError && !reached) fatal ??= new UsageError(`cannot reach ${opts.target}: ${e.message}`);
        else warn(`${describeStep(step)}: ${e.message}`);
      });
      sent++;
      if (step.kind === 'send' && step.requests.some((r) => r.method === 'initialize')) initId = step.requests.find((r) => r.method === 'initialize')!.id;
      // Recorded pacing does not wait for the server; otherwise wait as a client does, but not forever.
      background.push(done);
      if (opts.timing !== 'original') await atMost(done);
      if (fatal) break;
    }
    if (fatal) throw fatal;
    await expect.before(Infinity);
    // Server requests that no recorded answer step took are answered now, so the server is not left waiting.
    ending = true;
    for (const r of live.requests.splice(0)) background.push(answer(r, null).catch((e: Error) => warn(`answering ${r.method}: ${e.message}`)));
    await settled(background, atMost);
    if (fatal) throw fatal;
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // What the client already has must be in the capture before its streams are cut.
    await proxy.flush();
    await w.close().catch(() => {});
    agent.destroy();
    await proxy.flush();
    await proxy.close();
    // A replay that could not run leaves nothing behind: its sessions hold only the failed attempt.
    if (failed && opts.db && sessions.length) discard(opts.db, sessions.map((s) => s.id));
  }
  const session = sessions.find((s) => s.transport !== 'http') ?? sessions[0] ?? null;
  return { session, sent, answered, missing, renamed: names.applied };
}

/** Why a replay stopped at the handshake, and, when the recording's credentials were redacted, how to give them. */
function refusedHandshake(status: number, target: string, recorded: HeaderList, given: HeaderList): string {
  const givenNames = new Set(given.map(([k]) => k.toLowerCase()));
  const redacted = recorded.filter(([k, v]) => isSecretHeader(k) && REDACTED.test(v) && !givenNames.has(k.toLowerCase())).map(([k]) => k);
  const hint = redacted.length
    ? `; the recorded ${redacted.join(', ')} ${redacted.length > 1 ? 'were' : 'was'} redacted and is not sent again: give ${redacted.length > 1 ? 'them' : 'it'} with --header '${redacted[0]}: …'`
    : '';
  return `the handshake failed: initialize answered HTTP ${status} at ${target}, so no session started and nothing after it was sent${hint}`;
}

/**
 * Waits for every promise in `list`, those added while waiting too (an answer adds its body's end once
 * its head is in): the wire is closed only when nothing of the replay is still under way.
 */
async function settled(list: Promise<unknown>[], atMost: (p: Promise<unknown>) => Promise<unknown>): Promise<void> {
  for (let seen = -1; seen !== list.length;) {
    seen = list.length;
    await atMost(Promise.all(list));
  }
}

function discard(db: string, ids: string[]): void {
  const store = CaptureStore.open(db);
  try {
    store.deleteSessions(ids);
  } finally {
    store.close();
  }
}

function describeStep(s: Step): string {
  if (s.kind === 'send') return `sending ${s.methods.join(', ')}`;
  if (s.kind === 'answer') return `answering ${s.method}`;
  return s.kind === 'stream' ? 'opening the GET stream' : 'DELETE';
}
