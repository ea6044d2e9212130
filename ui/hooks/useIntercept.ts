import { useStdin, useStdout } from 'ink';
import { dropEffect, type HeldMessage, type HoldControl } from '../../src/proxy/intercept.js';
import { editText } from '../../src/cli/resend.js';

const ANSWER_TEMPLATE = JSON.stringify({ result: { content: [{ type: 'text', text: '' }] } }, null, 2) + '\n';

/**
 * The held screen's decisions. Edit and answer open $EDITOR (the UI hands the terminal over while it
 * runs); what is saved is validated by the interceptor, and a refusal is said in the status line with
 * the message still held. Decisions made over a hold channel settle when the proxy replies.
 */
export function useIntercept(interceptor: HoldControl | undefined, say: (line: string) => void) {
  const { setRawMode } = useStdin();
  const { stdout } = useStdout();
  const inEditor = (text: string, name: string): string | null => {
    setRawMode(false);
    try {
      return editText(text, name);
    } catch (e) {
      say(`still held: ${(e as Error).message}`);
      return null;
    } finally {
      setRawMode(true);
      stdout.write('\u001b[2J\u001b[3J\u001b[H');
    }
  };
  return async (action: 'forward' | 'editHeld' | 'answerHeld' | 'drop', m: HeldMessage) => {
    if (!interceptor) return;
    try {
      if (action === 'forward') {
        await interceptor.forward(m.id);
        say(`forwarded #${m.id} ${m.method ?? ''}`);
      } else if (action === 'drop') {
        await interceptor.drop(m.id);
        say(`dropped #${m.id} ${m.method ?? ''}: ${dropEffect(m)}`);
      } else if (action === 'editHeld') {
        const edited = inEditor(JSON.stringify(JSON.parse(m.body), null, 2) + '\n', `held-${m.id}.json`);
        if (edited == null) return;
        await interceptor.forward(m.id, edited);
        say(`forwarded #${m.id} as edited (recorded as an intercept-edit transform)`);
      } else {
        // Refused before the editor opens: nothing typed there could be sent.
        if (m.rpcId == null || m.noAnswer) return say(`still held: #${m.id} ${m.noAnswer ?? 'is a notification: it has no answer'} (forward, edit or drop it)`);
        const answer = inEditor(ANSWER_TEMPLATE, `answer-${m.id}.json`);
        if (answer == null) return;
        await interceptor.answer(m.id, answer);
        say(`answered #${m.id} in the server's place`);
      }
    } catch (e) {
      say(`still held: ${(e as Error).message.split('\n')[0]}`);
    }
  };
}
