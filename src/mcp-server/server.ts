import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { CaptureStore } from '../store/read.js';
import { UsageError } from '../errors.js';
import { recordingLines, turnsOf } from '../store/jsonl.js';
import { DEFAULT_MAX_BYTES, MAX_MAX_BYTES } from './bounded.js';
import { checkSession, conversation, listSessions, search, showSession, streams } from './answers.js';
import { FILTER_HELP } from '../cli/show.js';

// `mcptap mcp`: the capture database as a read-only MCP server, so that an agent (Claude Code itself)
// can ask what went wrong. Every tool reads the store through its read API; nothing writes. What is
// stored is already redacted, so answers carry no more than the database does.

/** A recording resource is cut here: a long session is read with show_session's pages instead. */
export const RESOURCE_MAX_BYTES = 512 * 1024;

const paging = {
  cursor: z.string().max(200).optional().describe("the 'more' value of the previous answer, for the next page"),
  limit: z.number().int().min(1).max(500).optional().describe('items per page'),
  maxBytes: z.number().int().min(1000).max(MAX_MAX_BYTES).optional().describe(`byte cap of the answer (default ${DEFAULT_MAX_BYTES})`),
};
const sessionArg = z.string().min(1).max(100).describe("a session id or unique id prefix (see list_sessions)");

type Answer = { content: Array<{ type: 'text'; text: string }>; isError?: boolean };

/** A tool's answer as JSON text; a usage error (bad session, bad filter, bad cursor) is a tool error saying what to give instead. */
function answer(fn: () => unknown): Answer {
  try {
    return { content: [{ type: 'text', text: JSON.stringify(fn()) }] };
  } catch (e) {
    const msg = e instanceof UsageError ? e.message : `mcptap could not answer: ${(e as Error).message}`;
    return { content: [{ type: 'text', text: msg }], isError: true };
  }
}

const pageArgs = (a: { cursor?: string; limit?: number; maxBytes?: number }) => ({ cursor: a.cursor, limit: a.limit, maxBytes: a.maxBytes ?? DEFAULT_MAX_BYTES });

/** The store, or a UsageError saying why there is none yet (a database not written yet is opened when it exists). */
export type StoreSource = () => CaptureStore;

export function capturesServer(storeOf: StoreSource, version: string): McpServer {
  const server = new McpServer({ name: 'mcptap', version }, {
    instructions: 'Read-only access to the MCP traffic mcptap captured (both halves: MCP sessions and model conversations). '
      + 'Start with list_sessions (newest first), then check_session for what went wrong, show_session or conversation for detail.',
  });
  const ro = { readOnlyHint: true, openWorldHint: false };

  server.registerTool('list_sessions', {
    description: 'Captured sessions, newest first: MCP sessions (streamable-http, sse, websocket, stdio) and model conversations (model-api), with message and error counts.',
    inputSchema: {
      client: z.string().max(200).optional().describe('client name contains (e.g. claude-code)'),
      server: z.string().max(200).optional().describe('server name, target URL or label contains'),
      transport: z.enum(['streamable-http', 'sse', 'websocket', 'stdio', 'model-api', 'http']).optional(),
      errorsOnly: z.boolean().optional().describe('only sessions with errors'),
      since: z.string().max(40).optional().describe('an ISO time, or an age like 30m, 2h, 1d'),
      ...paging,
    },
    annotations: ro,
  }, async (a) => answer(() => listSessions(storeOf(), a, pageArgs(a))));

  server.registerTool('show_session', {
    description: `An MCP session's messages in order, paged (each with a one-line summary and its payload; _meta folded to its keys unless unfoldMeta). filter: ${FILTER_HELP}.`,
    inputSchema: { session: sessionArg, filter: z.string().max(500).optional(), unfoldMeta: z.boolean().optional(), ...paging },
    annotations: ro,
  }, async (a) => answer(() => showSession(storeOf(), a.session, { filter: a.filter, unfoldMeta: a.unfoldMeta }, pageArgs(a))));

  server.registerTool('check_session', {
    description: "What went wrong in a session (default: the newest): findings, root causes first with what they explain folded under them, each with evidence and the fix. The same engine as 'mcptap check'.",
    inputSchema: {
      session: sessionArg.optional(),
      slowMs: z.number().int().min(1).max(86_400_000).optional().describe('report tool calls slower than this'),
      toolsShare: z.number().min(0.01).max(1).optional().describe('tools-context-cost threshold: share of a request (default 0.2)'),
      maxBytes: paging.maxBytes,
    },
    annotations: ro,
  }, async (a) => answer(() => checkSession(storeOf(), a.session, a, a.maxBytes ?? DEFAULT_MAX_BYTES)));

  server.registerTool('conversation', {
    description: "A model conversation's turns (model-api session): tools offered, each tool use with the MCP call it caused and its answer, results sent back, usage, and the context cost per turn (system, messages, built-in tools, each MCP server's tools; tokens estimated).",
    inputSchema: { session: sessionArg, ...paging },
    annotations: ro,
  }, async (a) => answer(() => conversation(storeOf(), a.session, pageArgs(a))));

  server.registerTool('streams', {
    description: "A session's streams (event-stream responses, the GET stream, WebSockets, stdio) with their health (who closed, longest silence, keep-alives) and the requests still unanswered.",
    inputSchema: { session: sessionArg, maxBytes: paging.maxBytes },
    annotations: ro,
  }, async (a) => answer(() => streams(storeOf(), a.session, a.maxBytes ?? DEFAULT_MAX_BYTES)));

  server.registerTool('search', {
    description: `Messages matching the filter language across every MCP session, newest session first: ${FILTER_HELP}.`,
    inputSchema: { filter: z.string().min(1).max(500), ...paging },
    annotations: ro,
  }, async (a) => answer(() => search(storeOf(), a.filter, pageArgs(a))));

  server.registerResource('recording', new ResourceTemplate('mcptap://session/{id}/recording.jsonl', {
    list: async () => ({
      resources: (() => { try { return storeOf().listSessions({ limit: 50 }); } catch { return []; } })()
        .reverse().map((s) => ({
        uri: `mcptap://session/${s.id}/recording.jsonl`, name: `${s.id} ${s.transport} ${s.label ?? s.target}`, mimeType: 'application/jsonl',
      })),
    }),
  }), { description: "A session's recording (mcptap's JSONL format, as 'mcptap export' writes it), cut at 512 KB.", mimeType: 'application/jsonl' },
  async (uri, vars) => {
    const store = storeOf();
    const s = store.resolveSession(String(vars.id));
    const lines = recordingLines({ session: s, exchanges: store.exchanges(s.id), messages: [...store.iterateMessages(s.id)], streams: store.streams(s.id), ...turnsOf(store, s) });
    return { contents: [{ uri: uri.href, mimeType: 'application/jsonl', text: capLines(lines, RESOURCE_MAX_BYTES) }] };
  });
  return server;
}

/** Whole lines up to the cap, then a last line saying how many were left out. */
function capLines(lines: string[], cap: number): string {
  let used = 0;
  for (const [i, l] of lines.entries()) {
    used += Buffer.byteLength(l, 'utf8') + 1;
    if (used > cap) return [...lines.slice(0, i), JSON.stringify({ type: 'mcptap-cut', linesLeftOut: lines.length - i, note: 'read the rest with show_session pages or mcptap export' })].join('\n') + '\n';
  }
  return lines.join('\n') + '\n';
}
