import { describe, expect, it } from 'vitest';
import { fold, stamp } from '../src/analysis/checks/fold.js';
import { SPECIFIC, type Cause, type Finding, type Rule } from '../src/analysis/checks/types.js';

// How the engine decides who tells a piece of evidence, one row per decision: candidate findings (as
// rules make them) → the root causes with what is folded under each.

type Candidate = { rule: string; title?: string; cause?: Cause; confidence?: number; severity?: Finding['severity']; x?: string[]; m?: number[]; claims?: Finding['claims'] };

const candidate = (c: Candidate): Finding => stamp({ id: c.rule, description: '', cause: c.cause, confidence: c.confidence } as Rule, {
  ruleId: c.rule, severity: c.severity ?? 'error', title: c.title ?? c.rule,
  evidence: { sessionId: 's', exchangeIds: c.x ?? [], messageSeqs: c.m ?? [] }, explanation: '', fix: '', ...(c.claims ? { claims: c.claims } : {}),
});

const shape = (fs: Finding[]) => fs.map((f) => `${f.ruleId}${f.occurrences ? `×${f.occurrences}` : ''}${f.caused ? ` [${f.caused.map((c) => c.ruleId).join(' ')}]` : ''}`);

const ROWS: Array<[string, Candidate[], string[]]> = [
  ['a more specific finding about the same exchange explains the generic one',
    [{ rule: 'generic', confidence: SPECIFIC.fallback, x: ['e1'] }, { rule: 'specific', confidence: SPECIFIC.certain, x: ['e1'] }], ['specific [generic]']],
  ['equally specific: the more upstream cause explains the other',
    [{ rule: 'session', cause: 'session', x: ['e1'] }, { rule: 'transport', cause: 'transport', x: ['e1'] }], ['transport [session]']],
  ['a finding explained only in part stays a cause of its own',
    [{ rule: 'cut', confidence: SPECIFIC.certain, x: ['e1'] }, { rule: 'three-requests', x: ['e1', 'e2', 'e3'] }], ['cut', 'three-requests']],
  ['findings of one rule never fold into each other',
    [{ rule: 'one', title: 'a', m: [1, 2] }, { rule: 'one', title: 'b', m: [2] }], ['one', 'one']],
  ['the same finding on identical exchanges is one, with both pieces of evidence',
    [{ rule: 'retry', x: ['e1'] }, { rule: 'retry', x: ['e2'] }, { rule: 'effect', confidence: SPECIFIC.generic, x: ['e2'] }], ['retry×2 [effect]']],
  ['claims narrower than the evidence: a message on a stream is not the stream',
    [{ rule: 'stream', confidence: SPECIFIC.certain, x: ['get'] }, { rule: 'message', x: ['get'], m: [7], claims: { messageSeqs: [7] } }], ['message', 'stream']],
  ['a note never explains a fault about the same exchange, however specific it is',
    [{ rule: 'rewrote', severity: 'info', confidence: SPECIFIC.certain, x: ['sse'] }, { rule: 'cut', confidence: SPECIFIC.likely, x: ['sse'] }], ['cut', 'rewrote']],
  ['a finding with no evidence is a cause of its own',
    [{ rule: 'any', x: ['e1'] }, { rule: 'none' }], ['any', 'none']],
  ['listed by cause: reachability, transport, access, session, protocol, tools, the rest; then errors first',
    [{ rule: 'tools', cause: 'tools', x: ['a'] }, { rule: 'other-warning', severity: 'warning', x: ['b'] }, { rule: 'other-error', x: ['c'] },
      { rule: 'access', cause: 'access', x: ['d'] }, { rule: 'reach', cause: 'reachability', severity: 'info', x: ['e'] }, { rule: 'protocol', cause: 'protocol', x: ['f'] }],
    ['reach', 'access', 'protocol', 'tools', 'other-error', 'other-warning']],
];

describe('the engine folds findings', () => {
  for (const [name, candidates, expected] of ROWS) it(name, () => expect(shape(fold(candidates.map(candidate)))).toEqual(expected));

  it('an old-shape rule (no cause, no confidence, no claims) gets the defaults: the rest, plain, its evidence', () => {
    const f = candidate({ rule: 'old', x: ['e1'] });
    expect(f).toMatchObject({ cause: 'other', confidence: SPECIFIC.plain });
    expect(f.claims).toBeUndefined();
    expect(shape(fold([f, candidate({ rule: 'new', cause: 'transport', confidence: SPECIFIC.certain, x: ['e1'] })]))).toEqual(['new [old]']);
  });
});
