import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Exchange, HeaderList, RpcId, Session, Transport } from '../capture/model.js';
import { UsageError } from '../errors.js';
import { startProxy } from '../proxy/server.js';
import { CallMatcher, recordedCalls } from './match.js';
import type { Recording } from './recording.js';
import { buildScript, type Step } from './steps.js';
import { HeaderPlan, LegacySseWire, StreamableWire, UpstreamError, WebSocketWire, type Wire, type WireBase } from './wire.js';

export type ReplayTransport = 'http' | 'sse' | 'ws';

export interface ReplayOptions {
  recording: Recording;
  /** Origin with an optional path prefix, as for the proxy; recorded request paths are appended. */
  target: string;
  /** Defaults to the recorded transport. */
  transport?: ReplayTransport;
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
}

export interface ReplayResult {
  /** The replayed session as captured, or null when nothing was captured. */
  session: Session | null;
  /** Steps sent (POST bodies, frames, streams, DELETE). */
  sent: number;
  /** Server→client requests answered with a recorded client answer. */
  answered: number;
  /** Things the recorded server sent that the live one did not, within the timeout. */
  missing: string[];
}

const TRANSPORTS: Record<ReplayTransport, Transport> = { http: 'streamable-http', sse: 'sse', ws: 'websocket' };
const DEFAULT_PATH: Record<Transport, string> = { 'streamable-http': '/mcp', sse: '/sse', websocket: '/', http: '/mcp' };
const enc = (id: unknown) => (typeof id === 'string' ? 's:' + id : 'n:' + String(id));

/**
 * Re-sends the client side of a recorded session to a live server as a new MCP session, through an
 * in-process proxy so the run is captured exactly like live traffic. Server requests are answered with
 * the recorded client answers; each step waits until the live server has sent what the recorded one
 * had sent before it (or, with `timing: original`, until its recorded moment).
 */
export async function replaySession(opts: ReplayOptions): Promise<ReplayResult> {
  const rec = opts.recording;
  if (rec.session.transport === 'http') throw new UsageError(`session ${rec.session.id} is plain HTTP, not an MCP session; nothing to replay`);
  const transport = opts.transport ? TRANSPORTS[opts.transport] : rec.session.transport;
  const script = buildScript(rec, transport);
  const warn = opts.onWarning ?? (() => {});
  for (const s of script.skipped) warn(`not replayed: ${s}`);
  if (!script.steps.length) throw new UsageError(`session ${rec.session.id} has no client messages to replay`);
  const timeoutMs = opts.timeoutMs ?? 10_000;

  const proxy = await startProxy({ target: opts.target, port: 0, db: opts.db ?? null, label: opts.label ?? `replay of ${rec.session.id}`, insecure: opts.insecure, onWarning: warn });
  const sessions: Session[] = [];
  proxy.engine.hub.on('session', (s) => {
    if (!sessions.some((x) => x.id === s.id)) sessions.push(s);
  });

  const live = new LiveState();
  const answers = new CallMatcher(recordedCalls(rec, 'server->client'));
  const pendingAnswers: Promise<unknown>[] = [];
  let answered = 0;
  let wire: Wire | null = null;
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
          if (typeof v.method === 'string' && 'id' in v) {
            // The server asks the client something: answer as the recorded client did.
            live.count(v.method);
            const call = answers.match(v.method, v.params);
            const reply = call?.response
              ? { ...call.response.value, id: v.id }
              : { jsonrpc: '2.0', id: v.id, error: { code: -32601, message: `mcptap replay: the recording has no client answer to ${v.method}` } };
            if (call?.response) answered++;
            const recorded = call?.response?.message.exchangeId ? rec.exchanges.find((e) => e.id === call.response!.message.exchangeId) : undefined;
            pendingAnswers.push(wire!.send(JSON.stringify(reply), recorded && transport === rec.session.transport ? sendTarget(recorded) : null).catch((e: Error) => warn(`answering ${v.method}: ${e.message}`)));
          } else if (typeof v.method === 'string') live.count(v.method);
          else if ('id' in v) {
            live.answer(v.id);
            const result = v.result as { protocolVersion?: unknown } | undefined;
            if (wire instanceof StreamableWire && typeof result?.protocolVersion === 'string') wire.noteProtocolVersion(result.protocolVersion);
          }
        }
      },
    },
  };

  const connection = script.connection ? sendTarget(script.connection) : null;
  if (transport === 'streamable-http') wire = new StreamableWire(base, DEFAULT_PATH[transport]);
  else if (transport === 'sse') wire = new LegacySseWire(base, connection, timeoutMs);
  else wire = new WebSocketWire(base, connection);

  const missing: string[] = [];
  let sent = 0;
  try {
    await wire.start().catch((e: Error) => {
      throw new UsageError(e instanceof UpstreamError ? `cannot reach ${opts.target}: ${e.message}` : `cannot open the ${transport} session at ${opts.target}: ${e.message}`);
    });
    const expect = new Expectations(rec, live, timeoutMs, missing);
    const t0 = performance.now();
    const first = script.steps[0].ts;
    let initId: RpcId | null = null;
    let reached = false;
    const inFlight: Promise<unknown>[] = [];
    for (const step of script.steps) {
      if (opts.timing === 'original') {
        // Recorded pacing, but nothing can go before the live session exists.
        if (initId != null) await expect.answerTo(initId);
        const due = step.ts - first - (performance.now() - t0);
        if (due > 0) await sleep(due);
      } else {
        await expect.before(step.ts);
        // The recorded client had answered what the server asked before it went on.
        await Promise.all(pendingAnswers);
      }
      // A target that cannot be reached at all is a wrong --target, not a finding about the server.
      const fail = (e: Error) => {
        if (e instanceof UpstreamError && !reached) throw new UsageError(`cannot reach ${opts.target}: ${e.message}`);
        warn(`${describeStep(step)}: ${e.message}`);
      };
      const run = runStep(wire, step, live).then(() => {
        reached = true;
      });
      sent++;
      if (step.kind === 'send') {
        const init = step.requests.find((r) => r.method === 'initialize');
        if (init) initId = init.id;
      }
      if (opts.timing === 'original' || step.kind === 'stream') inFlight.push(run.catch(fail));
      else await run.catch(fail);
    }
    await Promise.all(inFlight);
    await expect.before(Infinity);
    await Promise.all(pendingAnswers);
  } finally {
    await wire.close().catch(() => {});
    agent.destroy();
    await proxy.flush();
    await proxy.close();
  }
  const session = sessions.find((s) => s.transport !== 'http') ?? sessions[0] ?? null;
  return { session, sent, answered, missing };
}

async function runStep(wire: Wire, step: Step, live: LiveState): Promise<void> {
  if (step.kind === 'stream') return wire.openStream(sendTarget(step.exchange));
  if (step.kind === 'delete') return wire.remove(sendTarget(step.exchange));
  for (const r of step.requests) live.sent(r.id);
  const res = await wire.send(step.text, step.exchange && step.exchange.kind === 'http' ? sendTarget(step.exchange) : null);
  // A POST whose own response has ended will bring no more answers: the requests it carried are done.
  if (res.settled) for (const r of step.requests) live.answer(r.id);
}

function sendTarget(e: Exchange): { path: string; headers: HeaderList } {
  return { path: e.url, headers: e.requestHeaders };
}

function describeStep(s: Step): string {
  if (s.kind === 'send') return `sending ${s.methods.join(', ')}`;
  return s.kind === 'stream' ? 'opening the GET stream' : 'DELETE';
}

/** What the live server has sent so far. */
class LiveState {
  private readonly counts = new Map<string, number>();
  private readonly answered = new Set<string>();
  private waiters: Array<() => void> = [];

  count(method: string): void {
    this.counts.set(method, (this.counts.get(method) ?? 0) + 1);
    this.wake();
  }

  seen(method: string): number {
    return this.counts.get(method) ?? 0;
  }

  sent(id: RpcId): void {
    this.answered.delete(enc(id));
  }

  answer(id: unknown): void {
    this.answered.add(enc(id));
    this.wake();
  }

  isAnswered(id: RpcId): boolean {
    return this.answered.has(enc(id));
  }

  /** Resolves on the next message (or after ms). */
  change(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/**
 * Before each step, the replay waits for what the recorded client had received by then: the answers
 * to its earlier requests and as many of each server notification and request. What does not come
 * within the timeout is noted as missing and not waited for again. Steps come in time order, so the
 * recorded messages are taken in once each, as their time passes.
 */
class Expectations {
  private readonly requests: Array<{ id: RpcId; method: string; answeredAt: number }> = [];
  private readonly serverMessages: Array<{ ts: number; method: string }> = [];
  private nextRequest = 0;
  private nextMessage = 0;
  /** Requests whose recorded answer came before the current step, not yet answered live. */
  private due: Array<{ id: RpcId; method: string }> = [];
  /** How many of each server message the live server owes (recorded so far, minus what was given up on). */
  private readonly want = new Map<string, number>();

  constructor(rec: Recording, private readonly live: LiveState, private readonly timeoutMs: number, private readonly missing: string[]) {
    const bySeq = new Map(rec.messages.map((m) => [m.seq, m]));
    for (const m of rec.messages) {
      if (m.direction === 'client->server' && m.kind === 'request' && m.rpcId != null && m.correlatedSeq != null) {
        this.requests.push({ id: m.rpcId, method: m.method ?? '?', answeredAt: bySeq.get(m.correlatedSeq)?.ts ?? Infinity });
      } else if (m.direction === 'server->client' && (m.kind === 'notification' || m.kind === 'request') && m.method) {
        this.serverMessages.push({ ts: m.ts, method: m.method });
      }
    }
    this.requests.sort((a, b) => a.answeredAt - b.answeredAt);
    this.serverMessages.sort((a, b) => a.ts - b.ts);
  }

  async answerTo(id: RpcId): Promise<void> {
    const end = performance.now() + this.timeoutMs;
    while (!this.live.isAnswered(id) && performance.now() < end) await this.live.change(end - performance.now());
  }

  async before(ts: number): Promise<void> {
    while (this.nextRequest < this.requests.length && this.requests[this.nextRequest].answeredAt < ts) this.due.push(this.requests[this.nextRequest++]);
    while (this.nextMessage < this.serverMessages.length && this.serverMessages[this.nextMessage].ts < ts) {
      const m = this.serverMessages[this.nextMessage++].method;
      this.want.set(m, (this.want.get(m) ?? 0) + 1);
    }
    const end = performance.now() + this.timeoutMs;
    for (;;) {
      this.due = this.due.filter((r) => !this.live.isAnswered(r.id));
      const short = [...this.want].filter(([m, n]) => n > this.live.seen(m));
      if (!this.due.length && !short.length) return;
      const left = end - performance.now();
      if (left <= 0) {
        for (const r of this.due) this.missing.push(`an answer to ${r.method} (id ${JSON.stringify(r.id)})`);
        this.due = [];
        for (const [m, n] of short) {
          this.missing.push(`${n - this.live.seen(m)} × ${m} from the server`);
          this.want.set(m, this.live.seen(m));
        }
        return;
      }
      await this.live.change(left);
    }
  }
}
