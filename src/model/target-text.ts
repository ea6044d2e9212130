import type { Session } from './model.js';

/**
 * A session's target as people read it. A stdio session's target is a command line, text: a secret
 * redacted inside one of its URL arguments was percent-encoded to keep that URL valid
 * (`%5Bredacted%2010%20chars%20%23ab12cd%5D`), which is noise in a command line shown as text.
 */
export function targetText(s: Pick<Session, 'transport' | 'target'>): string {
  if (s.transport !== 'stdio') return s.target;
  return s.target.replace(/(?:%[0-9a-f]{2})+/gi, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}
