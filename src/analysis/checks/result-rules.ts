import { approxTokens, DEFAULT_BYTES_PER_TOKEN } from '../context-cost.js';
import { conversationRule, finding, resultFor } from './model-rules.js';
import { SPECIFIC, type Finding } from './types.js';

// A tool result the model got smaller than the MCP server sent it. Claude Code (by its docs and the
// messages users report; not recorded here, there being no Claude Code to run) caps MCP results at
// MAX_MCP_OUTPUT_TOKENS (25,000 tokens by default): above it the model gets an error text instead
// ('MCP tool "x" response (36382 tokens) exceeds maximum allowed tokens (25000)…'), newer versions
// save the result to a file and hand the model a pointer ('… Output has been saved to …'), and a
// result may also reach it cut short.

/** How the client replaced a result, by the text the model got instead. */
const REPLACED: Array<{ re: RegExp; how: string }> = [
  { re: /saved to\s+\S|full output (?:is )?(?:saved|written)|written to (?:a )?file/i, how: 'replaced by a pointer to a file' },
  { re: /exceeds maximum allowed tokens|response \(\d[\d,]* tokens\) exceeds|too large/i, how: 'replaced by a "too large" error' },
];
/** A result this much shorter, starting as the server's did, was cut; less than this is formatting. */
const CUT_RATIO = 0.9;
const MIN_CUT_BYTES = 1024;

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');
const n = (x: number) => x.toLocaleString('en-US');

/** How the model's copy differs from the server's answer, or null when it got it whole. */
function cutHow(server: string, model: string): string | null {
  const s = utf8(server);
  const m = utf8(model);
  if (m >= s) return null;
  for (const r of REPLACED) if (r.re.test(model) && !r.re.test(server)) return r.how;
  if (s - m < MIN_CUT_BYTES || m > s * CUT_RATIO) return null;
  const head = model.trimStart().slice(0, 200);
  return head && server.trimStart().startsWith(head) ? 'cut short: the model got its beginning' : 'shortened or summarised';
}

export const toolResultCut = conversationRule('tool-result-cut',
  'The model got less of a tool result than the MCP server sent (cut, summarised, replaced by a file pointer or a "too large" error): both sizes, and the fix (MAX_MCP_OUTPUT_TOKENS, paging).',
  { cause: 'tools', confidence: SPECIFIC.likely },
  (ctx, input) => {
    const out: Finding[] = [];
    for (const t of ctx.turns) {
      for (const u of t.toolUses) {
        if (!u.mcpCall || !u.result || u.result.isError) continue;
        const back = resultFor(ctx.turns, t.seq, u.id);
        if (!back) continue;
        const how = cutHow(u.result.text, back.text);
        if (!how) continue;
        const sent = utf8(u.result.text);
        const got = utf8(back.text);
        const at = `${u.mcpCall.session}:${u.mcpCall.seq}`;
        out.push(finding(input, 'tool-result-cut', 'warning',
          `${u.name}: the model got ${n(got)} of the ${n(sent)} bytes the MCP server answered (${how})`, [t, back.turn],
          `The MCP server answered the tools/call (${at}) with ${sent} bytes (${approxTokens(Math.round(sent / DEFAULT_BYTES_PER_TOKEN))} tokens, estimated); `
          + `the tool_result the client sent the model in turn ${back.turn.seq} holds ${got} bytes${back.isError ? ' and is marked is_error' : ''}: ${how}. `
          + `It was cut between the MCP server and the model, by the client: Claude Code caps MCP results at MAX_MCP_OUTPUT_TOKENS (about 25,000 tokens by default).`,
          `Make the tool return less per call (a limit or cursor argument, paging, a summary with a way to ask for more), `
          + `or raise the client's cap: MAX_MCP_OUTPUT_TOKENS=50000 in the environment Claude Code starts with (a larger result costs that much context on every later turn).`));
      }
    }
    return out;
  });
