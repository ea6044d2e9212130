import type { RpcMessage } from '../model/model.js';

/**
 * The timeline's filter language: terms separated by spaces, all of which must hold.
 *   method:tools/call   tool:query   dir:c2s | dir:s2c   kind:error | kind:request …
 *   status:>=400 | status:ok | status:error   latency:>500ms | latency:<2s   free text   !term (negation)
 */

export type FilterField = 'method' | 'tool' | 'dir' | 'kind' | 'status' | 'latency' | 'text';
type Op = '>=' | '<=' | '>' | '<' | '=';

export interface FilterTerm {
  negate: boolean;
  field: FilterField;
  op: Op;
  value: string;
  /** Numeric value for status and latency (ms). */
  num?: number;
}

export interface ParsedFilter {
  terms: FilterTerm[];
  errors: string[];
}

/** What a row offers the filter: a message (payload optional) and its exchange's HTTP status. */
export type FilterRow = Pick<RpcMessage, 'method' | 'subject' | 'direction' | 'kind' | 'isError' | 'latencyMs' | 'rpcId' | 'errorCode'> & { httpStatus?: number | null };

const FIELDS: Record<string, FilterField> = { method: 'method', tool: 'tool', dir: 'dir', kind: 'kind', status: 'status', latency: 'latency' };
const KINDS = ['request', 'notification', 'response', 'error', 'invalid', 'non-json', 'log'];

function parseDuration(v: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v);
  if (!m) return null;
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n;
}

export function parseFilter(input: string): ParsedFilter {
  const terms: FilterTerm[] = [];
  const errors: string[] = [];
  for (const raw of input.trim().split(/\s+/).filter(Boolean)) {
    const negate = raw.startsWith('!');
    const tok = negate ? raw.slice(1) : raw;
    const colon = tok.indexOf(':');
    const field = colon > 0 ? FIELDS[tok.slice(0, colon).toLowerCase()] : undefined;
    if (!field) {
      if (tok) terms.push({ negate, field: 'text', op: '=', value: tok.toLowerCase() });
      continue;
    }
    let rest = tok.slice(colon + 1);
    const opm = /^(>=|<=|>|<|=)/.exec(rest);
    const op = (opm?.[1] ?? '=') as Op;
    rest = rest.slice(opm?.[1].length ?? 0);
    if (!rest) {
      errors.push(`${tok}: needs a value`);
      continue;
    }
    const term: FilterTerm = { negate, field, op, value: rest.toLowerCase() };
    let error: string | null = null;
    if (field === 'latency') {
      const ms = parseDuration(rest);
      if (ms == null) error = 'latency is a number with ms or s, e.g. latency:>500ms';
      else term.num = ms;
    } else if (field === 'status' && /^\d+$/.test(rest)) term.num = Number(rest);
    else if (field === 'status' && !['ok', 'error'].includes(term.value)) error = 'status is a number (>=400) or ok or error';
    else if (field === 'dir' && !['c2s', 's2c'].includes(term.value)) error = 'dir is c2s or s2c';
    else if (field === 'kind' && !KINDS.includes(term.value)) error = `kind is one of ${KINDS.join(', ')}`;
    // Each term stands or falls on its own: a bad one is reported and left out, the good ones kept.
    if (error) errors.push(`${tok}: ${error}`);
    else terms.push(term);
  }
  return { terms, errors };
}

function compare(a: number, op: Op, b: number): boolean {
  return op === '>=' ? a >= b : op === '<=' ? a <= b : op === '>' ? a > b : op === '<' ? a < b : a === b;
}

/**
 * Whether a row passes every term. Free-text terms match method, tool/URI, kind and id here; the
 * caller may pass `textHits` (seqs whose payload contains the text, found by the store) per term.
 */
export function matches(row: FilterRow & { seq?: number }, terms: FilterTerm[], textHits?: Map<string, Set<number>>): boolean {
  for (const t of terms) {
    let ok: boolean;
    switch (t.field) {
      case 'method':
        ok = (row.method ?? '').toLowerCase().startsWith(t.value);
        break;
      case 'tool':
        ok = (row.subject ?? '').toLowerCase().includes(t.value);
        break;
      case 'dir':
        ok = row.direction === (t.value === 'c2s' ? 'client->server' : 'server->client');
        break;
      case 'kind':
        ok = t.value === 'error' ? row.isError || row.kind === 'error' || row.kind === 'invalid' || row.kind === 'non-json' : row.kind === t.value;
        break;
      case 'status':
        if (t.num != null) ok = row.httpStatus != null && compare(row.httpStatus, t.op, t.num);
        else ok = t.value === 'ok' ? !row.isError && (row.httpStatus == null || row.httpStatus < 400) : row.isError || (row.httpStatus ?? 0) >= 400;
        break;
      case 'latency':
        ok = row.latencyMs != null && compare(row.latencyMs, t.op, t.num ?? 0);
        break;
      default: {
        const hay = `${row.method ?? ''} ${row.subject ?? ''} ${row.kind} ${row.rpcId ?? ''} ${row.errorCode ?? ''}`.toLowerCase();
        ok = hay.includes(t.value) || (row.seq != null && !!textHits?.get(t.value)?.has(row.seq));
      }
    }
    if (ok === t.negate) return false;
  }
  return true;
}

const HINTS = ['method:', 'tool:', 'dir:c2s', 'dir:s2c', 'kind:error', 'kind:request', 'kind:notification', 'status:>=400', 'status:error', 'latency:>500ms', '!'];

/** Completions for the word being typed (the last one). */
export function completions(input: string, methods: string[] = []): string[] {
  const last = input.split(/\s+/).at(-1) ?? '';
  const neg = last.startsWith('!') ? '!' : '';
  const word = last.slice(neg.length).toLowerCase();
  const pool = [...HINTS, ...methods.map((m) => `method:${m}`)];
  if (!word) return HINTS.slice(0, 6);
  return [...new Set(pool.filter((h) => h.startsWith(word) && h !== word).map((h) => neg + h))].slice(0, 6);
}
