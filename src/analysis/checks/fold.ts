import { CAUSES, SPECIFIC, type Claims, type Finding, type Rule, type Severity } from './types.js';

// Rules only say what they explain and how sure they are; who tells a piece of evidence is decided
// here, once, so that adding a rule never means editing another one.

const SEVERITY: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
const causeRank = (f: Finding) => CAUSES.indexOf(f.cause ?? 'other');

/** What a finding explains, as keys shared by every finding of the session. */
function keysOf(f: Finding): string[] {
  const c: Claims = f.claims ?? f.evidence;
  return [
    ...(c.exchangeIds ?? []).map((id) => 'x:' + id),
    ...(c.messageSeqs ?? []).map((s) => 'm:' + s),
    ...(c.turnSeqs ?? []).map((s) => 't:' + s),
  ];
}

const firstSeq = (f: Finding) => f.evidence.messageSeqs[0] ?? f.evidence.turnSeqs?.[0] ?? Infinity;

const union = <T>(a: T[] | undefined, b: T[] | undefined): T[] | undefined =>
  a || b ? [...new Set([...(a ?? []), ...(b ?? [])])] : undefined;

/** The same finding of one rule for identical exchanges (a client retrying the same GET): one finding, the evidence of both. */
function mergeRepeats(fs: Finding[]): Finding[] {
  const byKey = new Map<string, Finding>();
  for (const f of fs) {
    const key = `${f.ruleId}\u0000${f.severity}\u0000${f.title}\u0000${f.fix}`;
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, { ...f, evidence: { ...f.evidence } });
      continue;
    }
    seen.occurrences = (seen.occurrences ?? 1) + (f.occurrences ?? 1);
    seen.evidence = {
      sessionId: seen.evidence.sessionId,
      messageSeqs: union(seen.evidence.messageSeqs, f.evidence.messageSeqs)!.sort((a, b) => a - b),
      exchangeIds: union(seen.evidence.exchangeIds, f.evidence.exchangeIds)!,
      ...(seen.evidence.turnSeqs || f.evidence.turnSeqs ? { turnSeqs: union(seen.evidence.turnSeqs, f.evidence.turnSeqs) } : {}),
    };
    if (seen.claims || f.claims) {
      const a = seen.claims ?? seen.evidence;
      const b = f.claims ?? f.evidence;
      seen.claims = { exchangeIds: union(a.exchangeIds, b.exchangeIds), messageSeqs: union(a.messageSeqs, b.messageSeqs), turnSeqs: union(a.turnSeqs, b.turnSeqs) };
    }
  }
  return [...byKey.values()];
}

/** The order in which causes get first pick of the evidence: the most specific, then the most upstream. */
function byClaimRank(a: Finding, b: Finding): number {
  return (b.confidence ?? SPECIFIC.plain) - (a.confidence ?? SPECIFIC.plain) || causeRank(a) - causeRank(b) ||
    SEVERITY[a.severity] - SEVERITY[b.severity] || firstSeq(a) - firstSeq(b);
}

/** The order findings are listed in: by cause (reachability and transport first), then severity, then time. */
export function byListOrder(a: Finding, b: Finding): number {
  return causeRank(a) - causeRank(b) || SEVERITY[a.severity] - SEVERITY[b.severity] || firstSeq(a) - firstSeq(b);
}

/** The rule's defaults on a finding written in the old shape (no cause, no confidence). */
export function stamp(rule: Rule, f: Finding): Finding {
  return { ...f, cause: f.cause ?? rule.cause ?? 'other', confidence: f.confidence ?? rule.confidence ?? SPECIFIC.plain };
}

/**
 * Each piece of evidence goes to the most specific, most upstream finding that claims it; a finding
 * whose claims are all explained already is listed under the highest-ranked of those (`caused`), not
 * on its own. Returns the
 * root causes, in list order, each with its consequences in list order.
 */
export function fold(candidates: Finding[]): Finding[] {
  const roots: Finding[] = [];
  const owner = new Map<string, Finding>();
  for (const f of mergeRepeats(candidates).sort(byClaimRank)) {
    const keys = keysOf(f);
    // Explained only when all of it is (a finding about three requests, one of which failed upstream,
    // still has two to tell). A rule does not explain its own findings: each is a problem of its own;
    // and a note never explains a fault (mcptap rewriting a stream says nothing of why the stream broke).
    const owners = keys.map((k) => owner.get(k));
    const explains = (x: Finding | undefined) => x != null && x.ruleId !== f.ruleId && SEVERITY[x.severity] <= SEVERITY[f.severity];
    const cause = keys.length && owners.every(explains) ? [...(owners as Finding[])].sort(byClaimRank)[0] : undefined;
    if (cause) {
      (cause.caused ??= []).push(f);
      continue;
    }
    roots.push(f);
    for (const k of keys) owner.set(k, f);
  }
  for (const r of roots) r.caused?.sort(byListOrder);
  return roots.sort(byListOrder);
}
