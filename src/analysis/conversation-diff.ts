import type { ConversationTurn } from '../capture/conversation.js';
import { joinTurns } from '../capture/conversation.js';
import { canonicalJson } from '../capture/join.js';
import type { Session } from '../model/model.js';
import { UsageError } from '../errors.js';
import { readRecording } from '../store/jsonl.js';
import type { CaptureStore } from '../store/read.js';
import { TurnReader } from '../store/turns-read.js';
import { isRecordingPath } from './input.js';

/** One pair of turns (by position) and how they differ. */
export interface TurnDiff {
  aSeq: number | null;
  bSeq: number | null;
  /** Tools offered in b and not in a, and the other way round. */
  toolsAdded: string[];
  toolsRemoved: string[];
  /** Tool uses as `name(canonical input)`, when they differ. */
  toolUses: { a: string[]; b: string[] } | null;
  stopReason: { a: string | null; b: string | null } | null;
  error: { a: string | null; b: string | null } | null;
}

export interface ConversationDiff {
  equivalent: boolean;
  a: { session: string; turns: number };
  b: { session: string; turns: number };
  turns: TurnDiff[];
}

const useKey = (u: ConversationTurn['toolUses'][number]) => `${u.name}(${canonicalJson(u.input ?? {})})`;
const errKey = (t: ConversationTurn | undefined) => (t?.error ? `${t.error.status ?? ''} ${t.error.type}`.trim() : null);

/** Two conversations compared turn by turn: tools offered, tool uses, stop reason, errors. */
export function diffConversations(a: { session: Session; turns: ConversationTurn[] }, b: { session: Session; turns: ConversationTurn[] }): ConversationDiff {
  const out: TurnDiff[] = [];
  for (let i = 0; i < Math.max(a.turns.length, b.turns.length); i++) {
    const x = a.turns[i];
    const y = b.turns[i];
    const ox = new Set(x?.toolsOffered ?? []);
    const oy = new Set(y?.toolsOffered ?? []);
    const ux = (x?.toolUses ?? []).map(useKey);
    const uy = (y?.toolUses ?? []).map(useKey);
    const d: TurnDiff = {
      aSeq: x?.seq ?? null, bSeq: y?.seq ?? null,
      toolsAdded: [...oy].filter((n) => !ox.has(n)), toolsRemoved: [...ox].filter((n) => !oy.has(n)),
      toolUses: ux.join('\n') === uy.join('\n') ? null : { a: ux, b: uy },
      stopReason: (x?.stopReason ?? null) === (y?.stopReason ?? null) ? null : { a: x?.stopReason ?? null, b: y?.stopReason ?? null },
      error: errKey(x) === errKey(y) ? null : { a: errKey(x), b: errKey(y) },
    };
    if (!x || !y || d.toolsAdded.length || d.toolsRemoved.length || d.toolUses || d.stopReason || d.error) out.push(d);
  }
  return { equivalent: out.length === 0, a: { session: a.session.id, turns: a.turns.length }, b: { session: b.session.id, turns: b.turns.length }, turns: out };
}

/** A conversation from a recording (its turns and blobs) or from the store (joined to MCP calls). Null for an MCP session. */
export function loadConversation(arg: string, store: CaptureStore | null): { session: Session; turns: ConversationTurn[] } | null {
  if (isRecordingPath(arg)) {
    const r = readRecording(arg);
    if (r.session.transport !== 'model-api') return null;
    const blobs = new Map((r.blobs ?? []).map((b) => [b.hash, b.text]));
    const names = (h: string | null) => (h && blobs.has(h) ? (JSON.parse(blobs.get(h)!) as string[]) : []);
    return { session: r.session, turns: joinTurns(r.turns ?? [], (t) => names(t.toolNamesHash), []) };
  }
  if (!store) throw new UsageError(`'${arg}' is not a recording file, and there is no capture database to look it up in`);
  const session = store.resolveSession(arg);
  return session.transport === 'model-api' ? new TurnReader(store).conversation(session) : null;
}

export function renderConversationDiff(d: ConversationDiff): string {
  const lines = [`conversation ${d.a.session} (${d.a.turns} turns) vs ${d.b.session} (${d.b.turns} turns): ${d.equivalent ? 'equivalent' : `${d.turns.length} turns differ`}`];
  for (const t of d.turns) {
    lines.push(`  turn ${t.aSeq ?? '-'} ↔ ${t.bSeq ?? '-'}${t.aSeq == null ? '  only in b' : t.bSeq == null ? '  only in a' : ''}`);
    if (t.toolsAdded.length) lines.push(`    tools offered only in b: ${t.toolsAdded.join(', ')}`);
    if (t.toolsRemoved.length) lines.push(`    tools offered only in a: ${t.toolsRemoved.join(', ')}`);
    if (t.toolUses) lines.push(`    tool uses: a ${t.toolUses.a.join(', ') || '(none)'}  |  b ${t.toolUses.b.join(', ') || '(none)'}`);
    if (t.stopReason) lines.push(`    stop reason: a ${t.stopReason.a ?? '-'}  |  b ${t.stopReason.b ?? '-'}`);
    if (t.error) lines.push(`    error: a ${t.error.a ?? '-'}  |  b ${t.error.b ?? '-'}`);
  }
  return lines.join('\n') + '\n';
}
