import type { Finding } from '../analysis/checks/types.js';
import type { SpanEvent } from './span.js';

/** The event a finding becomes on the span it explains (mcptap's names: the conventions have none for this). */
export const FINDING_EVENT = 'mcptap.finding';

export function findingEvent(f: Finding, time: number): SpanEvent {
  return {
    name: FINDING_EVENT,
    time,
    attributes: { 'mcptap.finding.rule': f.ruleId, 'mcptap.finding.severity': f.severity, 'mcptap.finding.title': f.title, 'mcptap.finding.fix': f.fix },
  };
}
