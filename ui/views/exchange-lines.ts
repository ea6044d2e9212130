import type { Exchange, Session } from '../../src/model/model.js';
import type { CaptureStore } from '../../src/store/read.js';
import { checkStored } from '../../src/analysis/checks/error-count.js';
import type { Finding } from '../../src/analysis/checks/types.js';
import { exchangeTrouble, rewriteText } from '../../src/model/facts.js';
import { duration } from '../../src/cli/format.js';

/** Characters of an error response's body shown. */
const BODY_SHOWN = 2000;

/** An HTTP exchange as the detail screens show it: the request line and answer, timing, rewrites, headers, a refusal's body. */
export function exchangeLines(ex: Exchange): string[] {
  const out = [`── HTTP exchange ${ex.id}`];
  out.push(`${ex.method} ${ex.url} → ${ex.status ?? (ex.endedAt == null ? 'no answer yet' : '—')}${exchangeTrouble(ex) ? `  (${exchangeTrouble(ex)})` : ''}`);
  out.push(`upstream ${ex.upstreamUrl}   first byte ${duration(ex.firstByteAt && ex.firstByteAt - ex.startedAt)}   total ${duration(ex.endedAt && ex.endedAt - ex.startedAt)}   ${ex.requestBytes}B → ${ex.responseBytes}B`);
  for (const r of ex.rewrites) out.push(`rewrote ${rewriteText(r)}`);
  out.push('request headers:', ...ex.requestHeaders.map(([k, v]) => `  ${k}: ${v}`));
  if (ex.responseHeaders) out.push('response headers:', ...ex.responseHeaders.map(([k, v]) => `  ${k}: ${v}`));
  // A refusal's body (an OAuth 401's error, a gateway's 403) is no JSON-RPC message: shown here.
  if (ex.status != null && ex.status >= 400 && ex.responseBody) {
    const body = ex.responseBody.length > BODY_SHOWN ? ex.responseBody.slice(0, BODY_SHOWN) + ' …' : ex.responseBody;
    out.push('response body:', ...body.split(/\r?\n/).map((l) => '  ' + l));
  }
  return out;
}

/** The finding of `mcptap check` that claims each exchange of a session (its root cause). */
export function exchangeFindings(store: CaptureStore, session: Session): Map<string, Finding> {
  const out = new Map<string, Finding>();
  for (const f of checkStored(store, session)) for (const id of f.claims?.exchangeIds ?? f.evidence.exchangeIds) if (!out.has(id)) out.set(id, f);
  return out;
}

/** A finding above the exchange it claims. */
export function findingLines(f: Finding | undefined): string[] {
  return f ? [`── mcptap check: ${f.severity.toUpperCase()} [${f.ruleId}] ${f.title}`, `   fix: ${f.fix}`, ''] : [];
}
