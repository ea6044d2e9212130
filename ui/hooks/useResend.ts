import { useStdin, useStdout } from 'ink';
import type { Session } from '../../src/model/model.js';
import type { CaptureStore } from '../../src/store/read.js';
import { editInEditor, resend } from '../../src/cli/resend.js';
import { resendPart } from '../../src/replay/resend.js';

/**
 * R in the detail view: the message in $EDITOR (the UI hands the terminal over while it runs), then sent
 * again after its session's handshake, as a new session the list shows live; the outcome in the status line.
 */
export function useResend(store: CaptureStore, say: (line: string) => void) {
  const { setRawMode } = useStdin();
  const { stdout } = useStdout();
  return (session: Session, seq: number) => {
    if (store.file.endsWith('.jsonl')) return say('resend writes a new session: import the recording first (mcptap import FILE), then open it from the database');
    const messages = [...store.iterateMessages(session.id)];
    const original = messages.find((m) => m.seq === seq);
    if (!original) return;
    let edited: string;
    setRawMode(false);
    try {
      edited = editInEditor(original);
    } catch (e) {
      return say(`not resent: ${(e as Error).message}`);
    } finally {
      setRawMode(true);
      stdout.write('\u001b[2J\u001b[3J\u001b[H');
    }
    let part;
    try {
      part = resendPart({ session, messages, exchanges: store.exchanges(session.id) }, seq, edited);
    } catch (e) {
      return say(`not resent: ${(e as Error).message}`);
    }
    const sent = part.messages.find((m) => m.seq === seq)!;
    say(`resending #${seq} ${sent.method} to ${session.target} (after its handshake)…`);
    resend(part, sent, { target: session.target, db: store.file, onWarning: (m) => say(`resend: ${m}`) })
      .then((r) => say(`resent #${seq} as session ${r.session} (label "resend of ${session.id} #${seq}"): ${r.answer ? `answer #${r.answer.seq}` : 'no answer'}${r.report.equivalent ? ', same as the original' : ` — ${r.report.verdict}`}`))
      .catch((e: Error) => say(`resend failed: ${e.message.split('\n')[0]}`));
  };
}
