import { splitTools, turnContextCost, type ToolsSplit, type TurnContextCost } from '../analysis/context-cost.js';
import type { ConversationTurn } from '../capture/conversation.js';
import type { TurnReader } from './turns-read.js';

/**
 * Context cost of a conversation's turns, read cheaply: each distinct tools array (a blob, the same on
 * most turns) is split once, the system prompt's size is its blob's, and the request's size is its
 * exchange's byte count. Nothing re-reads a request body.
 */
export class ContextCostReader {
  private readonly splits = new Map<string, ToolsSplit | null>();

  constructor(private readonly turns: TurnReader) {}

  private split(hash: string | null): ToolsSplit | null {
    if (!hash) return null;
    if (!this.splits.has(hash)) {
      const text = this.turns.blob(hash);
      this.splits.set(hash, text == null ? null : splitTools(text));
    }
    return this.splits.get(hash)!;
  }

  cost(t: Pick<ConversationTurn, 'seq' | 'exchangeId' | 'toolsHash' | 'systemHash' | 'usage'>): TurnContextCost {
    const requestBytes = this.turns.requestBytes(t.exchangeId);
    const system = this.turns.blob(t.systemHash);
    return turnContextCost(t.seq, requestBytes, system == null ? 0 : Buffer.byteLength(system, 'utf8'), this.split(t.toolsHash), t.usage);
  }

  costs(turns: ConversationTurn[]): TurnContextCost[] {
    return turns.map((t) => this.cost(t));
  }
}
