import type { Exchange, RpcMessage, Session } from '../model/model.js';
import type { StreamFacts } from '../capture/streams.js';
import { decodeErrorText } from '../model/facts.js';
import { header, mediaType } from '../model/headers.js';
import { align, type Op } from './align.js';
import { diffJson, type PathDiff } from './jsondiff.js';
import { normalize, parseIgnore } from './normalize.js';
import { diffToolSurface, toolSurface, toolSurfaceChanged, type ToolSurfaceDiff } from './tools.js';
import { droppedByGateway, gatewayBetween, renamesExplained, type GatewayDiff } from './gateway-diff.js';
import { parseForView } from '../wire/json-depth.js';

/** One side of a comparison: a session with its messages (seq order) and exchanges. */
export interface DiffInput {
  session: Session;
  messages: RpcMessage[];
  exchanges: Exchange[];
  /** Recorded stream facts, when the source has them. */
  streams?: StreamFacts[];
}

export interface DiffOptions {
  /** JSON paths that are not differences (`--ignore`). */
  ignore?: string[];
}

export type PairStatus = 'same' | 'changed' | 'added' | 'removed';

export interface AlignedPair {
  a: RpcMessage | null;
  b: RpcMessage | null;
  status: PairStatus;
  /** Differences of the messages themselves (requests: their params). */
  paths: PathDiff[];
  /** For requests: their responses, compared. */
  response?: { a: RpcMessage | null; b: RpcMessage | null; paths: PathDiff[] };
}

export interface Outcome {
  /** `result`, `isError` (a tool result flagged as failed), `error` (JSON-RPC error), `no response`. */
  kind: 'result' | 'isError' | 'error' | 'no response' | 'unreadable';
  code?: number | null;
  message?: string;
}

export interface OutcomeChange {
  label: string;
  aSeq: number | null;
  bSeq: number | null;
  a: Outcome | null;
  b: Outcome | null;
}

export interface HandshakeDiff {
  field: string;
  a: unknown;
  b: unknown;
}

export interface HttpDiff {
  /** `POST /mcp → 406 (text/plain)` */
  what: string;
  a: number;
  b: number;
}

export interface DiffReport {
  equivalent: boolean;
  verdict: string;
  a: SessionRef;
  b: SessionRef;
  handshake: HandshakeDiff[];
  tools: ToolSurfaceDiff;
  outcomes: OutcomeChange[];
  /** Aligned pairs that differ in content (not in outcome), with their JSON-path differences. */
  changes: AlignedPair[];
  http: HttpDiff[];
  /**
   * When one side went through a gateway in front of the other's server: the gateway, the server and the
   * prefix it added, and what it changed. The handshake, HTTP and prefix differences are then the
   * gateway's, listed in `gateway.changes`, and do not make the sessions different.
   */
  gateway: GatewayDiff | null;
  pairs: AlignedPair[];
  counts: { same: number; changed: number; added: number; removed: number };
}

export interface SessionRef {
  id: string;
  label: string | null;
  transport: string;
  target: string;
  messages: number;
}

const ref = (x: DiffInput): SessionRef => ({ id: x.session.id, label: x.session.label, transport: x.session.transport, target: x.session.target, messages: x.messages.length });

function parse(m: RpcMessage): unknown {
  if (m.kind === 'non-json') return m.payload;
  try {
    return parseForView(m.payload);
  } catch {
    return m.payload;
  }
}

function outcomeOf(res: RpcMessage | null): Outcome {
  if (!res) return { kind: 'no response' };
  if (res.kind === 'error') {
    const v = parse(res) as { error?: { message?: string } };
    return { kind: 'error', code: res.errorCode, message: v?.error?.message };
  }
  if (res.kind !== 'response') return { kind: 'unreadable', message: res.decodeError ? decodeErrorText(res.decodeError) : undefined };
  if (res.isError) {
    const v = parse(res) as { result?: { content?: Array<{ text?: string }> } };
    return { kind: 'isError', message: v?.result?.content?.find((c) => c.text)?.text };
  }
  return { kind: 'result' };
}

export function describeOutcome(o: Outcome | null): string {
  if (!o) return 'not sent';
  if (o.kind === 'error') return `error ${o.code ?? ''} ${o.message ?? ''}`.replace(/\s+/g, ' ').trim();
  if (o.kind === 'isError') return `isError${o.message ? `: ${o.message}` : ''}`;
  return o.kind;
}

function label(m: RpcMessage): string {
  return `${m.method ?? m.kind}${m.subject ? ' ' + m.subject : ''}`;
}

const OUTCOME_METHODS = new Set(['tools/call', 'resources/read', 'prompts/get']);

/**
 * Pairs a call only in A with the same call only in B, when the order alignment left them apart
 * (concurrent calls answered in another order): one call, compared, never listed as both
 * "result → not sent" and "not sent → result".
 */
function pairMoved(ops: Array<Op<RpcMessage>>, keyA: (m: RpcMessage) => string, keyB: (m: RpcMessage) => string): Array<Op<RpcMessage>> {
  const movable = (m: RpcMessage | null): m is RpcMessage => !!m && m.kind === 'request' && OUTCOME_METHODS.has(m.method ?? '');
  const onlyB = new Map<string, number[]>();
  ops.forEach((op, i) => {
    if (!op.a && movable(op.b)) onlyB.set(keyB(op.b), [...(onlyB.get(keyB(op.b)) ?? []), i]);
  });
  const taken = new Set<number>();
  const out: Array<Op<RpcMessage>> = ops.map((op) => {
    if (op.b || !movable(op.a)) return op;
    const i = onlyB.get(keyA(op.a))?.shift();
    if (i == null) return op;
    taken.add(i);
    return { a: op.a, b: ops[i].b };
  });
  return out.filter((_, i) => !taken.has(i));
}

/**
 * Compares two sessions message by message. Responses are compared through the request they answer;
 * everything run-specific is normalised away first (ids, session ids, UUIDs, timestamps, progress
 * tokens, `_meta`, `--ignore` paths).
 */
export function diffSessions(a: DiffInput, b: DiffInput, opts: DiffOptions = {}): DiffReport {
  const ignore = { ignore: parseIgnore(opts.ignore) };
  const handshake = diffHandshake(a.session, b.session, ignore.ignore);
  const tools = diffToolSurface(toolSurface(a.messages), toolSurface(b.messages));
  const gateway = gatewayBetween(a.session, b.session, tools);
  let dropped = 0;
  // A call to a renamed tool lines up with the call to its old name.
  const renamedBack = new Map(tools.renamed.map((r) => [r.to, r.from]));
  const bySeqA = new Map(a.messages.map((m) => [m.seq, m]));
  const bySeqB = new Map(b.messages.map((m) => [m.seq, m]));
  const answered = (m: RpcMessage) => (m.kind === 'response' || m.kind === 'error') && m.correlatedSeq != null;
  const key = (renames: Map<string, string> | null) => (m: RpcMessage) => {
    const kind = m.kind === 'error' || m.kind === 'response' ? 'reply' : m.kind;
    const subject = m.subject && renames?.get(m.subject) ? renames.get(m.subject)! : m.subject ?? '';
    return `${m.direction}|${kind}|${m.method ?? ''}|${subject}`;
  };
  // A stdio server's stderr lines are its log, not protocol: they differ by timestamps on every run.
  const compared = (xs: RpcMessage[]) => xs.filter((m) => !answered(m) && m.kind !== 'log');
  const aligned = pairMoved(alignWithKeys(compared(a.messages), compared(b.messages), key(null), key(renamedBack)), key(null), key(renamedBack));

  const pairs: AlignedPair[] = [];
  const outcomes: OutcomeChange[] = [];
  const counts = { same: 0, changed: 0, added: 0, removed: 0 };
  for (const op of aligned) {
    if (!op.a || !op.b) {
      const status: PairStatus = op.a ? 'removed' : 'added';
      counts[status]++;
      const m = (op.a ?? op.b)!;
      const pair: AlignedPair = { a: op.a, b: op.b, status, paths: [] };
      if (m.kind === 'request') {
        const res = m.correlatedSeq != null ? (op.a ? bySeqA : bySeqB).get(m.correlatedSeq) ?? null : null;
        pair.response = { a: op.a ? res : null, b: op.b ? res : null, paths: [] };
        if (m.method === 'tools/call' || m.method === 'resources/read' || m.method === 'prompts/get') {
          outcomes.push({ label: label(m), aSeq: op.a?.seq ?? null, bSeq: op.b?.seq ?? null, a: op.a ? outcomeOf(res) : null, b: op.b ? outcomeOf(res) : null });
        }
      }
      pairs.push(pair);
      continue;
    }
    const paths = diffJson(normalize(parse(op.a), ignore), normalize(parse(op.b), ignore));
    const pair: AlignedPair = { a: op.a, b: op.b, status: 'same', paths };
    if (op.a.kind === 'request') {
      const ra = op.a.correlatedSeq != null ? bySeqA.get(op.a.correlatedSeq) ?? null : null;
      const rb = op.b.correlatedSeq != null ? bySeqB.get(op.b.correlatedSeq) ?? null : null;
      const oa = outcomeOf(ra);
      const ob = outcomeOf(rb);
      let rpaths = ra && rb ? explainedElsewhere(op.a.method, diffJson(normalize(parse(ra), ignore), normalize(parse(rb), ignore)), tools.renamed) : [];
      if (gateway && rpaths.some(droppedByGateway)) {
        dropped++;
        rpaths = rpaths.filter((p) => !droppedByGateway(p));
      }
      pair.response = { a: ra, b: rb, paths: rpaths };
      if (oa.kind !== ob.kind || oa.code !== ob.code) {
        outcomes.push({ label: label(op.a), aSeq: op.a.seq, bSeq: op.b.seq, a: oa, b: ob });
        pair.status = 'changed';
      } else if (rpaths.length) pair.status = 'changed';
    }
    // The renamed tool's call differs by name only; the tool-surface section already says so.
    const meaningful = paths.filter((p) => !(p.path === '$.params.name' && renamedBack.get(String(p.b)) === p.a));
    pair.paths = meaningful;
    if (meaningful.length) pair.status = 'changed';
    counts[pair.status === 'changed' ? 'changed' : 'same']++;
    pairs.push(pair);
  }
  const changes = pairs.filter((p) => p.status === 'changed' && !outcomes.some((o) => o.aSeq === p.a?.seq && o.bSeq === p.b?.seq));
  const http = diffHttp(a.exchanges, b.exchanges);
  if (gateway) {
    const by = gateway.side === 'b' ? 'B' : 'A';
    if (handshake.length) gateway.changes.push(`${by}'s initialize was answered by the gateway: ${handshake.map((h) => `${h.field} ${JSON.stringify(h.a)} → ${JSON.stringify(h.b)}`).join(', ')}`);
    if (gateway.prefix) gateway.changes.push(`${tools.renamed.length} tool names ${gateway.side === 'b' ? 'gained' : 'lost'} the prefix '${gateway.prefix}' (${tools.renamed[0].from} → ${tools.renamed[0].to})`);
    if (dropped) gateway.changes.push(`result.structuredContent only in ${gateway.side === 'b' ? 'A' : 'B'} in ${dropped} answer${dropped > 1 ? 's' : ''} (the gateway passed the content on without it)`);
    if (http.length) gateway.changes.push(`HTTP, the gateway's endpoint: ${httpSides(http)}`);
  }
  const toolsDiffer = renamesExplained(gateway, tools) ? tools.added.length + tools.removed.length + tools.schemaChanges.length > 0 : toolSurfaceChanged(tools);
  const equivalent = (gateway != null || !handshake.length) && !toolsDiffer && !outcomes.length && counts.changed + counts.added + counts.removed === 0 && (gateway != null || !http.length);
  const report: DiffReport = { equivalent, verdict: '', a: ref(a), b: ref(b), handshake, tools, outcomes, changes, http, gateway, pairs, counts };
  report.verdict = verdict(report);
  return report;
}

/**
 * Response differences that the handshake and tool-surface sections already report: the initialize
 * result's server info, version and capabilities, and renamed tools in a tools/list result.
 */
function explainedElsewhere(method: string | null, paths: PathDiff[], renamed: Array<{ from: string; to: string }>): PathDiff[] {
  if (method === 'initialize') return paths.filter((p) => !/^\$\.result\.(serverInfo|protocolVersion|capabilities)\b/.test(p.path));
  if (method === 'tools/list' && renamed.length) {
    const gone = new Set(renamed.flatMap((r) => [`$.result.tools[name=${r.from}]`, `$.result.tools[name=${r.to}]`]));
    return paths.filter((p) => !gone.has(p.path));
  }
  return paths;
}

/** Aligns with a different key function per side (B's keys see renamed tools under their old names). */
function alignWithKeys(a: RpcMessage[], b: RpcMessage[], ka: (m: RpcMessage) => string, kb: (m: RpcMessage) => string) {
  const keysA = new Map(a.map((m) => [m, ka(m)]));
  const keysB = new Map(b.map((m) => [m, kb(m)]));
  return align<RpcMessage>(a, b, (m) => keysA.get(m) ?? keysB.get(m)!);
}

function diffHandshake(a: Session, b: Session, ignore: string[][]): HandshakeDiff[] {
  const out: HandshakeDiff[] = [];
  const add = (field: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x ?? null) !== JSON.stringify(y ?? null)) out.push({ field, a: x ?? null, b: y ?? null });
  };
  add('transport', a.transport, b.transport);
  add('protocol version', a.protocolVersion, b.protocolVersion);
  add('server name', a.serverInfo?.name, b.serverInfo?.name);
  add('server version', a.serverInfo?.version, b.serverInfo?.version);
  // A stateless session (2026-07-28) that never asked server/discover does not know them: unknown is no difference.
  const unknown = (s: Session) => s.serverCapabilities == null && s.grouping != null;
  if (unknown(a) || unknown(b)) return out;
  for (const p of diffJson(normalize(a.serverCapabilities ?? {}, { ignore }), normalize(b.serverCapabilities ?? {}, { ignore }), '$.capabilities')) {
    out.push({ field: `server ${p.path.slice(2)}`, a: p.a ?? null, b: p.b ?? null });
  }
  return out;
}

function exchangeKey(e: Exchange): string {
  const path = e.url.split('?')[0].replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>');
  const type = mediaType(header(e.responseHeaders, 'content-type'));
  // A refused upgrade and a client going away keep their status: the failure adds nothing to compare.
  const f = e.failure && e.failure.kind !== 'client-aborted' && e.failure.kind !== 'upgrade-refused' ? e.failure : null;
  const status = f ? `failed (${f.kind === 'upstream-unreachable' ? f.code : f.kind})` : e.aborted && e.status == null ? 'aborted' : String(e.status ?? '—');
  return `${e.method} ${path} → ${status}${type ? ` (${type})` : ''}`;
}

/** HTTP exchanges by method, path, status and content type, counted: what one side got and the other did not. */
function diffHttp(a: Exchange[], b: Exchange[]): HttpDiff[] {
  const count = (xs: Exchange[]) => {
    const m = new Map<string, number>();
    for (const e of xs) m.set(exchangeKey(e), (m.get(exchangeKey(e)) ?? 0) + 1);
    return m;
  };
  const ca = count(a);
  const cb = count(b);
  const out: HttpDiff[] = [];
  for (const k of new Set([...ca.keys(), ...cb.keys()])) {
    const x = ca.get(k) ?? 0;
    const y = cb.get(k) ?? 0;
    // Only whole kinds of exchange that one side never had: how many POSTs a session made is the
    // message alignment's business.
    if ((x === 0) !== (y === 0)) out.push({ what: k, a: x, b: y });
  }
  return out.sort((p, q) => p.what.localeCompare(q.what));
}

/** "A: GET /mcp → 200 (text/event-stream), …; B: …": the kinds of exchange only one side had. */
function httpSides(http: HttpDiff[]): string {
  const side = (pick: (h: HttpDiff) => number) => http.filter((h) => pick(h) > 0 && !http.some((o) => o !== h && o.what === h.what)).map((h) => `${h.what} ${pick(h)}×`).join(', ');
  return `A ${side((h) => h.a) || 'none of its own'}; B ${side((h) => h.b) || 'none of its own'}`;
}

function verdict(r: DiffReport): string {
  const g = r.gateway;
  const through = g ? gatewayLine(g, r.tools.renamed.length) : '';
  if (r.equivalent) return `equivalent${g ? ` apart from the gateway (${through})` : ''}: ${r.counts.same} aligned messages match (ids, session ids, timestamps and tokens normalised)`;
  const parts: string[] = g ? [through] : [];
  if (r.handshake.length && !g) parts.push(`${r.handshake.length} handshake difference${r.handshake.length > 1 ? 's' : ''}`);
  if (g?.prefix) {
    // The prefix is in the gateway line.
  } else if (r.tools.pattern) parts.push(r.tools.pattern.replace(/ \(.*$/, ''));
  else if (r.tools.renamed.length) parts.push(`${r.tools.renamed.length} tools renamed`);
  if (r.tools.added.length) parts.push(`${r.tools.added.length} tools added`);
  if (r.tools.removed.length) parts.push(`${r.tools.removed.length} tools removed`);
  if (r.tools.schemaChanges.length) parts.push(`${r.tools.schemaChanges.length} input schemas changed`);
  const failing = r.outcomes.filter((o) => o.b && o.b.kind !== 'result' && (!o.a || o.a.kind === 'result'));
  if (failing.length) parts.push(`${failing.length} call${failing.length > 1 ? 's' : ''} now fail${failing.length > 1 ? '' : 's'}`);
  const other = r.outcomes.length - failing.length;
  if (other > 0) parts.push(`${other} other outcome change${other > 1 ? 's' : ''}`);
  if (r.changes.length) parts.push(`${r.changes.length} message${r.changes.length > 1 ? 's differ' : ' differs'}`);
  if (r.counts.added) parts.push(`${r.counts.added} only in B`);
  if (r.counts.removed) parts.push(`${r.counts.removed} only in A`);
  if (r.http.length && !g) parts.push(`${r.http.length} HTTP difference${r.http.length > 1 ? 's' : ''}`);
  return `different: ${parts.join(', ')}`;
}

/** "B went through litellm → files, which added the prefix 'files-' to 4 tools" */
function gatewayLine(g: GatewayDiff, renamed: number): string {
  const who = g.side === 'b' ? 'B' : 'A';
  const prefix = g.prefix ? `, which ${g.side === 'b' ? 'added' : 'had added'} the prefix '${g.prefix}' to ${renamed} tool${renamed === 1 ? '' : 's'}` : ', with no tool prefix';
  return `${who} went ${g.via}${prefix}`;
}
