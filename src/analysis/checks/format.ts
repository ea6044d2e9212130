import type { Session } from '../../model/model.js';
import { RULES } from './engine.js';
import type { Finding } from './types.js';
import { targetText } from '../../model/target-text.js';

export interface SessionFindings {
  session: Session;
  findings: Finding[];
}

const evidence = (f: Finding) => [
  f.evidence.turnSeqs?.length ? `turn${f.evidence.turnSeqs.length > 1 ? 's' : ''} ${f.evidence.turnSeqs.map((s) => '#' + s).join(' ')}` : '',
  f.evidence.messageSeqs.length ? `messages ${f.evidence.messageSeqs.map((s) => '#' + s).join(' ')}` : '',
  f.evidence.exchangeIds.length ? `exchange${f.evidence.exchangeIds.length > 1 ? 's' : ''} ${f.evidence.exchangeIds.slice(0, 3).join(' ')}${f.evidence.exchangeIds.length > 3 ? ` (+${f.evidence.exchangeIds.length - 3})` : ''}` : '',
].filter(Boolean).join(', ');

/** "(2 times)" after the title of a finding seen on identical exchanges. */
export const times = (f: Finding) => (f.occurrences && f.occurrences > 1 ? ` (${f.occurrences} times)` : '');

/** "+2 consequences" of a root cause, or ''. */
export const consequencesLabel = (f: Finding) => (f.caused?.length ? `+${f.caused.length} consequence${f.caused.length > 1 ? 's' : ''}` : '');

/** One line for a finding folded under its cause. */
export const consequenceLine = (c: Finding) => `${c.severity} [${c.ruleId}] ${c.title}${times(c)}`;

export function formatText(all: SessionFindings[]): string {
  const lines: string[] = [];
  for (const { session: s, findings } of all) {
    const folded = findings.reduce((n, f) => n + (f.caused?.length ?? 0), 0);
    lines.push(`session ${s.id}${s.label ? ` (${s.label})` : ''} ${s.transport} ${targetText(s)}: ${findings.length ? `${count(findings, 'error')} errors, ${count(findings, 'warning')} warnings, ${count(findings, 'info')} notes${folded ? ` (and ${folded} consequences folded under them)` : ''}` : 'no findings'}`);
    for (const f of findings) {
      lines.push(`  ${f.severity.toUpperCase().padEnd(7)} [${f.ruleId}] ${f.title}${times(f)}`);
      lines.push(`          ${f.explanation}`);
      lines.push(`          fix: ${f.fix}`);
      const ev = evidence(f);
      if (ev) lines.push(`          evidence: ${ev}  (mcptap show ${s.id})`);
      if (f.caused?.length) {
        lines.push(`          ${consequencesLabel(f)}:`);
        for (const c of f.caused) lines.push(`            ${consequenceLine(c)}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

const count = (fs: Finding[], sev: Finding['severity']) => fs.filter((f) => f.severity === sev).length;

const logical = (sessionId: string, f: Finding) => [{
  name: `session ${sessionId}`,
  fullyQualifiedName: `mcptap://session/${sessionId}${f.evidence.messageSeqs.length ? `#${f.evidence.messageSeqs[0]}` : ''}`,
  kind: 'module',
}];

export function formatJson(all: SessionFindings[]): string {
  return JSON.stringify(all.map(({ session, findings }) => ({ session: { id: session.id, label: session.label, transport: session.transport, target: session.target }, findings })), null, 2) + '\n';
}

/** SARIF 2.1.0: one run, a rule per check, a result per finding, the session as the artifact. */
export function formatSarif(all: SessionFindings[]): string {
  const level = { error: 'error', warning: 'warning', info: 'note' } as const;
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{
      tool: {
        driver: {
          name: 'mcptap',
          informationUri: 'https://www.npmjs.com/package/mcptap',
          version: '0.1.0',
          rules: RULES.map((r) => ({ id: r.id, name: r.id, shortDescription: { text: r.description } })),
        },
      },
      results: all.flatMap(({ session, findings }) => findings.map((f) => ({
        ruleId: f.ruleId,
        ruleIndex: RULES.findIndex((r) => r.id === f.ruleId),
        level: level[f.severity],
        message: { text: `${f.title}${times(f)}. ${f.explanation} Fix: ${f.fix}${f.caused?.length ? ` (${consequencesLabel(f)}, see relatedLocations)` : ''}` },
        locations: [{ logicalLocations: logical(session.id, f) }],
        // What this cause explains: each consequence where it happened, with what it would have said.
        ...(f.caused?.length ? {
          relatedLocations: f.caused.map((c, i) => ({ id: i, message: { text: `consequence: ${consequenceLine(c)}` }, logicalLocations: logical(session.id, c) })),
        } : {}),
        properties: {
          sessionId: session.id, messageSeqs: f.evidence.messageSeqs, exchangeIds: f.evidence.exchangeIds, fix: f.fix, cause: f.cause,
          ...(f.occurrences ? { occurrences: f.occurrences } : {}),
          ...(f.caused?.length ? { caused: f.caused.map((c) => ({ ruleId: c.ruleId, severity: c.severity, title: c.title, messageSeqs: c.evidence.messageSeqs, exchangeIds: c.evidence.exchangeIds })) } : {}),
        },
      }))),
    }],
  };
  return JSON.stringify(sarif, null, 2) + '\n';
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * JUnit XML: a test suite per session, a test case per rule, a failure per error root cause (its
 * consequences listed in it); a rule whose findings are all consequences of another passes, and says
 * under what they were folded.
 */
export function formatJunit(all: SessionFindings[]): string {
  const suites = all.map(({ session, findings }) => {
    const cases = RULES.map((r) => {
      const mine = findings.filter((f) => f.ruleId === r.id);
      const errors = mine.filter((f) => f.severity === 'error');
      const consequences = (f: Finding) => (f.caused?.length ? `\n${consequencesLabel(f)}:\n${f.caused.map((c) => `  ${consequenceLine(c)}`).join('\n')}` : '');
      const body = errors.map((f) => `      <failure message="${xml(f.title + times(f))}" type="${f.ruleId}">${xml(`${f.explanation}\nfix: ${f.fix}${consequences(f)}`)}</failure>`).join('\n');
      const folded = findings.flatMap((f) => (f.caused ?? []).filter((c) => c.ruleId === r.id).map((c) => `${consequenceLine(c)} (a consequence of [${f.ruleId}] ${f.title})`));
      const out = [...mine.filter((f) => f.severity !== 'error').map((f) => `${f.severity}: ${f.title}${times(f)}`), ...folded].join('\n');
      return `    <testcase classname="mcptap.${session.id}" name="${r.id}">${body ? '\n' + body + '\n    ' : ''}${out ? `<system-out>${xml(out)}</system-out>` : ''}</testcase>`;
    });
    const failures = RULES.filter((r) => findings.some((f) => f.ruleId === r.id && f.severity === 'error')).length;
    return `  <testsuite name="session ${xml(session.id)}${session.label ? ` (${xml(session.label)})` : ''}" tests="${RULES.length}" failures="${failures}" errors="0">\n${cases.join('\n')}\n  </testsuite>`;
  });
  const failures = all.reduce((n, s) => n + RULES.filter((r) => s.findings.some((f) => f.ruleId === r.id && f.severity === 'error')).length, 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="mcptap check" tests="${RULES.length * all.length}" failures="${failures}">\n${suites.join('\n')}\n</testsuites>\n`;
}
