import type { Session } from '../../capture/model.js';
import { RULES } from './engine.js';
import type { Finding } from './types.js';

export interface SessionFindings {
  session: Session;
  findings: Finding[];
}

const evidence = (f: Finding) => [
  f.evidence.turnSeqs?.length ? `turn${f.evidence.turnSeqs.length > 1 ? 's' : ''} ${f.evidence.turnSeqs.map((s) => '#' + s).join(' ')}` : '',
  f.evidence.messageSeqs.length ? `messages ${f.evidence.messageSeqs.map((s) => '#' + s).join(' ')}` : '',
  f.evidence.exchangeIds.length ? `exchange${f.evidence.exchangeIds.length > 1 ? 's' : ''} ${f.evidence.exchangeIds.slice(0, 3).join(' ')}${f.evidence.exchangeIds.length > 3 ? ` (+${f.evidence.exchangeIds.length - 3})` : ''}` : '',
].filter(Boolean).join(', ');

export function formatText(all: SessionFindings[]): string {
  const lines: string[] = [];
  for (const { session: s, findings } of all) {
    lines.push(`session ${s.id}${s.label ? ` (${s.label})` : ''} ${s.transport} ${s.target}: ${findings.length ? `${count(findings, 'error')} errors, ${count(findings, 'warning')} warnings, ${count(findings, 'info')} notes` : 'no findings'}`);
    for (const f of findings) {
      lines.push(`  ${f.severity.toUpperCase().padEnd(7)} [${f.ruleId}] ${f.title}`);
      lines.push(`          ${f.explanation}`);
      lines.push(`          fix: ${f.fix}`);
      const ev = evidence(f);
      if (ev) lines.push(`          evidence: ${ev}  (mcptap show ${s.id})`);
    }
  }
  return lines.join('\n') + '\n';
}

const count = (fs: Finding[], sev: Finding['severity']) => fs.filter((f) => f.severity === sev).length;

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
        message: { text: `${f.title}. ${f.explanation} Fix: ${f.fix}` },
        locations: [{
          logicalLocations: [{ name: `session ${session.id}`, fullyQualifiedName: `mcptap://session/${session.id}${f.evidence.messageSeqs.length ? `#${f.evidence.messageSeqs[0]}` : ''}`, kind: 'module' }],
        }],
        properties: { sessionId: session.id, messageSeqs: f.evidence.messageSeqs, exchangeIds: f.evidence.exchangeIds, fix: f.fix },
      }))),
    }],
  };
  return JSON.stringify(sarif, null, 2) + '\n';
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JUnit XML: a test suite per session, a test case per rule, a failure per error finding. */
export function formatJunit(all: SessionFindings[]): string {
  const suites = all.map(({ session, findings }) => {
    const cases = RULES.map((r) => {
      const mine = findings.filter((f) => f.ruleId === r.id);
      const errors = mine.filter((f) => f.severity === 'error');
      const body = errors.map((f) => `      <failure message="${xml(f.title)}" type="${f.ruleId}">${xml(`${f.explanation}\nfix: ${f.fix}`)}</failure>`).join('\n');
      const out = mine.filter((f) => f.severity !== 'error').map((f) => `${f.severity}: ${f.title}`).join('\n');
      return `    <testcase classname="mcptap.${session.id}" name="${r.id}">${body ? '\n' + body + '\n    ' : ''}${out ? `<system-out>${xml(out)}</system-out>` : ''}</testcase>`;
    });
    const failures = RULES.filter((r) => findings.some((f) => f.ruleId === r.id && f.severity === 'error')).length;
    return `  <testsuite name="session ${xml(session.id)}${session.label ? ` (${xml(session.label)})` : ''}" tests="${RULES.length}" failures="${failures}" errors="0">\n${cases.join('\n')}\n  </testsuite>`;
  });
  const failures = all.reduce((n, s) => n + RULES.filter((r) => s.findings.some((f) => f.ruleId === r.id && f.severity === 'error')).length, 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="mcptap check" tests="${RULES.length * all.length}" failures="${failures}">\n${suites.join('\n')}\n</testsuites>\n`;
}
