import type { RpcMessage } from '../model/model.js';
import { describeOutcome, type DiffReport } from './diff.js';
import type { PathDiff } from './jsondiff.js';

const show = (v: unknown) => {
  const s = v === undefined ? '∅' : JSON.stringify(v);
  return s.length > 80 ? s.slice(0, 79) + '…' : s;
};
const at = (m: RpcMessage | null) => (m ? `#${m.seq}` : '—');

function paths(ps: PathDiff[], indent: string, max = 8): string[] {
  const out = ps.slice(0, max).map((p) =>
    p.change === 'changed' ? `${indent}${p.path}: ${show(p.a)} → ${show(p.b)}` : `${indent}${p.path}: ${p.change === 'added' ? 'only in B ' + show(p.b) : 'only in A ' + show(p.a)}`);
  if (ps.length > max) out.push(`${indent}… and ${ps.length - max} more`);
  return out;
}

/** The report for people, in the order that explains a failure fastest. */
export function renderDiffText(r: DiffReport): string {
  const name = (x: DiffReport['a']) => `${x.id}${x.label ? ` (${x.label})` : ''} ${x.transport} ${x.target}, ${x.messages} messages`;
  const lines = [r.verdict, `  A: ${name(r.a)}`, `  B: ${name(r.b)}`];
  if (r.gateway) {
    lines.push('', 'Gateway', `  ${r.gateway.side === 'b' ? 'B' : 'A'} went ${r.gateway.via}${r.gateway.server ? ` (upstream server ${r.gateway.server})` : ''}${r.gateway.prefix ? `, tool prefix '${r.gateway.prefix}'` : ''}; what the gateway changed:`);
    for (const c of r.gateway.changes) lines.push(`    ${c}`);
  }
  if (r.handshake.length && !r.gateway) {
    lines.push('', 'Handshake');
    for (const h of r.handshake) lines.push(`  ${h.field}: ${show(h.a)} → ${show(h.b)}`);
  }
  const t = r.tools;
  if ((!r.gateway?.prefix && (t.pattern || t.renamed.length)) || t.added.length || t.removed.length || t.schemaChanges.length || (t.a === null) !== (t.b === null)) {
    lines.push('', 'Tools');
    if (t.a === null || t.b === null) lines.push(`  tools/list ${t.a === null ? 'only in B' : 'only in A'}`);
    if (r.gateway?.prefix) {
      // Named under Gateway.
    } else if (t.pattern) lines.push(`  ${t.pattern}`);
    else for (const x of t.renamed) lines.push(`  renamed ${x.from} → ${x.to}`);
    if (t.removed.length) lines.push(`  only in A: ${t.removed.join(', ')}`);
    if (t.added.length) lines.push(`  only in B: ${t.added.join(', ')}`);
    for (const s of t.schemaChanges) {
      lines.push(`  input schema of ${s.tool}:`);
      lines.push(...paths(s.paths, '    ', 5));
    }
  }
  if (r.outcomes.length) {
    lines.push('', 'Outcomes');
    for (const o of r.outcomes) lines.push(`  ${o.label} (A #${o.aSeq ?? '—'}, B #${o.bSeq ?? '—'}): ${describeOutcome(o.a)} → ${describeOutcome(o.b)}`);
  }
  const other = r.pairs.filter((p) => p.status === 'added' || p.status === 'removed');
  if (r.changes.length || other.length) {
    lines.push('', 'Messages');
    for (const p of r.pairs) {
      if (p.status === 'same') continue;
      const m = (p.a ?? p.b)!;
      const lbl = `${m.direction === 'client->server' ? '→' : '←'} ${m.kind} ${m.method ?? ''}${m.subject ? ' ' + m.subject : ''}`;
      if (p.status === 'added') lines.push(`  + B ${at(p.b)} ${lbl}`);
      else if (p.status === 'removed') lines.push(`  - A ${at(p.a)} ${lbl}`);
      else if (r.changes.includes(p)) {
        lines.push(`  ~ A ${at(p.a)} / B ${at(p.b)} ${lbl}`);
        lines.push(...paths(p.paths, '      '));
        if (p.response?.paths.length) {
          lines.push(`      response A ${at(p.response.a)} / B ${at(p.response.b)}:`);
          lines.push(...paths(p.response.paths, '        '));
        }
      }
    }
  }
  if (r.http.length && !r.gateway) {
    lines.push('', 'HTTP');
    for (const h of r.http) lines.push(`  ${h.what}: A ${h.a}×, B ${h.b}×`);
  }
  return lines.join('\n') + '\n';
}
