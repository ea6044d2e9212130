import { describe, expect, it } from 'vitest';
import { modelApiOfUrl, looksLikeModelRequest } from '../src/wire/model-api/detect.js';
import { decodeModelRequest } from '../src/wire/model-api/request.js';
import { ModelResponseDecoder } from '../src/wire/model-api/reader.js';
import type { ModelApi, ModelResponse } from '../src/wire/model-api/types.js';
import { readRun, RUNS } from './helpers/claude-fixtures.js';

// Real Claude Code 2.1.330 traffic (fixtures) and the documented OpenAI shapes, each decoded whole and
// split at every position / in random patterns: DESIGN invariant 5, as in wire-fuzz.test.ts.

function prng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function* splittings(buf: Buffer, seed: number): Generator<Buffer[]> {
  if (buf.length <= 1500) for (let i = 1; i < buf.length; i++) yield [buf.subarray(0, i), buf.subarray(i)];
  const rand = prng(seed);
  for (let k = 0; k < 100; k++) {
    const parts: Buffer[] = [];
    for (let i = 0; i < buf.length;) {
      const n = 1 + Math.floor(rand() * Math.min(48, buf.length - i));
      parts.push(buf.subarray(i, i + n));
      i += n;
    }
    yield parts;
  }
}

function decode(api: ModelApi, type: string, parts: Buffer[]): ModelResponse {
  const d = new ModelResponseDecoder(api, type);
  for (const p of parts) d.push(p);
  return d.end();
}

function expectSameHoweverSplit(api: ModelApi, type: string, text: string): ModelResponse {
  const whole = Buffer.from(text);
  const expected = decode(api, type, [whole]);
  for (const parts of splittings(whole, whole.length)) expect(decode(api, type, parts)).toEqual(expected);
  return expected;
}

describe('Claude Code fixtures (Anthropic Messages, SSE)', () => {
  it.each(RUNS)('%s: the tool use, the result sent back, the tools offered', (run) => {
    const turns = readRun(run, 'model');
    expect(turns).toHaveLength(2);
    const [first, second] = turns;
    expect(modelApiOfUrl(first.method, first.url)).toBe('anthropic-messages');
    const req1 = decodeModelRequest('anthropic-messages', JSON.parse(first.requestBody));
    expect(looksLikeModelRequest('anthropic-messages', JSON.parse(first.requestBody))).toBe(true);
    expect(req1).toMatchObject({ model: 'claude-opus-5-5', stream: true, toolResults: [] });
    const prefixed = run === 'gateway-prefixed' || run === 'no-such-tool';
    expect(req1.toolNames).toContain(prefixed ? 'mcp__srv__db_main-echo' : 'mcp__srv__echo');
    expect(req1.toolNames).not.toContain(prefixed ? 'mcp__srv__echo' : 'mcp__srv__db_main-echo');
    expect(req1.system).toContain("You are a Claude agent");

    const resp = expectSameHoweverSplit('anthropic-messages', 'text/event-stream', first.responseBody!);
    expect(resp.stopReason).toBe('tool_use');
    expect(resp.complete).toBe(true);
    expect(resp.toolUses).toHaveLength(1);
    const use = resp.toolUses[0];
    expect(use).toMatchObject({ kind: 'tool_use', name: run === 'gateway-prefixed' ? 'mcp__srv__db_main-echo' : 'mcp__srv__echo', input: { message: 'hello from fixture' } });
    expect(use.id).toMatch(/^toolu_/);
    expect(resp.usage).toEqual({ input_tokens: 1, output_tokens: 5 });

    const req2 = decodeModelRequest('anthropic-messages', JSON.parse(second.requestBody));
    expect(req2.toolResults).toHaveLength(1);
    expect(req2.toolResults[0].toolUseId).toBe(use.id);
    if (run === 'no-such-tool') {
      expect(req2.toolResults[0]).toMatchObject({ isError: true, text: '<tool_use_error>Error: No such tool available: mcp__srv__echo</tool_use_error>' });
    } else {
      expect(req2.toolResults[0]).toEqual({ toolUseId: use.id, isError: false, text: 'Echo: hello from fixture' });
    }
    expect(req2.firstMessage).toBe(req1.firstMessage);
    const resp2 = decode('anthropic-messages', 'text/event-stream', [Buffer.from(second.responseBody!)]);
    expect(resp2).toMatchObject({ stopReason: 'end_turn', toolUses: [] });
    expect(resp2.text).toContain('TOOL RESULT:');
  });
});

describe('Anthropic Messages, other shapes', () => {
  const stream = [
    'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4-5","usage":{"input_tokens":2048,"output_tokens":1}}}\n\n',
    'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}\n\n',
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}\n\n',
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"abc"}}\n\n',
    'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    'event: ping\ndata: {"type": "ping"}\n\n',
    'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}\n\n',
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Let me list 🌍."}}\n\n',
    'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n',
    'event: content_block_start\ndata: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01ABC","name":"mcp__litellm__list_objects","input":{}}}\n\n',
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\\"schema_name\\": \\"pu\\\\"}}\n\n',
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"u0062lic\\"}"}}\n\n',
    'event: content_block_stop\ndata: {"type":"content_block_stop","index":2}\n\n',
    'event: content_block_start\ndata: {"type":"content_block_start","index":3,"content_block":{"type":"mcp_tool_use","id":"mcptoolu_1","name":"echo","server_name":"remote","input":{}}}\n\n',
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":""}}\n\n',
    'event: content_block_stop\ndata: {"type":"content_block_stop","index":3}\n\n',
    'event: content_block_start\ndata: {"type":"content_block_start","index":4,"content_block":{"type":"mcp_tool_result","tool_use_id":"mcptoolu_1","is_error":true,"content":[{"type":"text","text":"boom"}]}}\n\n',
    'event: content_block_stop\ndata: {"type":"content_block_stop","index":4}\n\n',
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":61}}\n\n',
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
  ].join('');

  it('thinking, text, a tool_use whose arguments split inside an escape, the MCP connector blocks', () => {
    const r = expectSameHoweverSplit('anthropic-messages', 'text/event-stream', stream);
    expect(r.text).toBe('Let me list 🌍.');
    expect(r.toolUses.map((u) => [u.kind, u.id, u.name, u.input, u.serverLabel])).toEqual([
      ['tool_use', 'toolu_01ABC', 'mcp__litellm__list_objects', { schema_name: 'public' }, null],
      ['mcp_tool_use', 'mcptoolu_1', 'echo', {}, 'remote'],
    ]);
    expect(r.serverResults).toEqual([{ toolUseId: 'mcptoolu_1', isError: true, text: 'boom' }]);
    expect(r).toMatchObject({ id: 'msg_1', model: 'claude-sonnet-4-5', stopReason: 'tool_use', usage: { input_tokens: 2048, output_tokens: 61 }, complete: true });
  });

  it('an error event mid-stream, a JSON answer, an error answer, a count_tokens answer', () => {
    const err = decode('anthropic-messages', 'text/event-stream', [Buffer.from('event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n')]);
    expect(err.error).toEqual({ type: 'overloaded_error', message: 'Overloaded' });
    const json = JSON.stringify({ id: 'msg_2', type: 'message', model: 'm', stop_reason: 'tool_use', usage: { input_tokens: 3, output_tokens: 4 },
      content: [{ type: 'text', text: 'ok' }, { type: 'tool_use', id: 'toolu_2', name: 'mcp__a__b', input: { x: [1, 2] } }] });
    const r = expectSameHoweverSplit('anthropic-messages', 'application/json', json);
    expect(r.toolUses).toEqual([{ id: 'toolu_2', name: 'mcp__a__b', input: { x: [1, 2] }, inputText: '{"x":[1,2]}', kind: 'tool_use', serverLabel: null }]);
    expect(r.text).toBe('ok');
    const e401 = decode('anthropic-messages', 'application/json', [Buffer.from('{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}')]);
    expect(e401.error).toEqual({ type: 'authentication_error', message: 'invalid x-api-key' });
    expect(decode('anthropic-count-tokens', 'application/json', [Buffer.from('{"input_tokens":2095}')]).usage).toEqual({ input_tokens: 2095 });
  });

  it('a request with the MCP connector and a string system prompt', () => {
    const r = decodeModelRequest('anthropic-messages', {
      model: 'claude-x', system: 'be brief', mcp_servers: [{ type: 'url', url: 'https://example.com/mcp', name: 'remote' }],
      messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'x', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'a' }, { type: 'image', source: {} }] }] }],
    });
    expect(r).toMatchObject({ system: '"be brief"', mcpServers: [{ name: 'remote', url: 'https://example.com/mcp' }], messageCount: 3, stream: false,
      toolResults: [{ toolUseId: 't1', isError: false, text: 'a\n[image]' }] });
  });
});

describe('OpenAI Chat Completions', () => {
  const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
  const stream = [
    chunk({ id: 'chatcmpl-1', model: 'gpt-4o', choices: [{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'list_schemas', arguments: '' } }] } }] }),
    chunk({ id: 'chatcmpl-1', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"db":' } }] } }] }),
    chunk({ id: 'chatcmpl-1', choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'ping', arguments: '{}' } }] } }] }),
    chunk({ id: 'chatcmpl-1', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"main"}' } }] } }] }),
    chunk({ id: 'chatcmpl-1', choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 10, completion_tokens: 5 } }),
    'data: [DONE]\n\n',
  ].join('');

  it('tool calls assembled by index from fragments, [DONE]', () => {
    const r = expectSameHoweverSplit('openai-chat', 'text/event-stream', stream);
    expect(r.toolUses.map((u) => [u.id, u.name, u.input])).toEqual([['call_a', 'list_schemas', { db: 'main' }], ['call_b', 'ping', {}]]);
    expect(r).toMatchObject({ id: 'chatcmpl-1', model: 'gpt-4o', stopReason: 'tool_calls', usage: { prompt_tokens: 10, completion_tokens: 5 }, complete: true });
  });

  it('a JSON completion, an error, and a request with tools and role "tool" results', () => {
    const r = decode('openai-chat', 'application/json', [Buffer.from(JSON.stringify({ id: 'c2', model: 'gpt', choices: [{ message: { content: 'hi', tool_calls: [{ id: 'call_x', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, finish_reason: 'tool_calls' }] }))]);
    expect(r.toolUses).toMatchObject([{ id: 'call_x', name: 'f', input: { a: 1 } }]);
    expect(decode('openai-chat', 'application/json', [Buffer.from('{"error":{"message":"Rate limit","type":"rate_limit_error","code":"429"}}')]).error).toEqual({ type: 'rate_limit_error', message: 'Rate limit' });
    const req = decodeModelRequest('openai-chat', { model: 'gpt', stream: true, tools: [{ type: 'function', function: { name: 'f' } }],
      messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: 'q' }, { role: 'assistant', tool_calls: [] }, { role: 'tool', tool_call_id: 'call_x', content: 'r' }] });
    expect(req).toMatchObject({ toolNames: ['f'], system: '["sys"]', stream: true, toolResults: [{ toolUseId: 'call_x', isError: false, text: 'r' }] });
  });
});

describe('OpenAI Responses', () => {
  const ev = (o: Record<string, unknown>) => `event: ${o.type}\ndata: ${JSON.stringify(o)}\n\n`;
  const mcpCall = { id: 'mcp_1', type: 'mcp_call', approval_request_id: null, arguments: '{"q":1}', error: null, name: 'list_schemas', output: 'public', server_label: 'litellm' };
  const stream = [
    ev({ type: 'response.mcp_list_tools.in_progress', sequence_number: 0 }),
    ev({ type: 'response.mcp_list_tools.completed', sequence_number: 1 }),
    ev({ type: 'response.output_item.done', item: { id: 'mcpl_1', type: 'mcp_list_tools', server_label: 'litellm', tools: [{ name: 'list_schemas', input_schema: {} }] } }),
    ev({ type: 'response.mcp_call.in_progress', item_id: 'mcp_1' }),
    ev({ type: 'response.output_item.added', item: { ...mcpCall, arguments: '', output: null } }),
    ev({ type: 'response.mcp_call_arguments.delta', item_id: 'mcp_1', delta: '{"q":1}' }),
    ev({ type: 'response.mcp_call_arguments.done', item_id: 'mcp_1', arguments: '{"q":1}' }),
    ev({ type: 'response.mcp_call.completed', item_id: 'mcp_1' }),
    ev({ type: 'response.output_item.done', item: mcpCall }),
    ev({ type: 'response.created', response: { id: 'resp_1', model: 'gpt-4o', status: 'in_progress' } }),
    ev({ type: 'response.output_item.added', item: { id: 'fc_1', type: 'function_call', call_id: 'call_9', name: 'get_weather', arguments: '' } }),
    ev({ type: 'response.function_call_arguments.delta', item_id: 'fc_1', delta: '{"city":' }),
    ev({ type: 'response.function_call_arguments.delta', item_id: 'fc_1', delta: '"Paris"}' }),
    ev({ type: 'response.output_text.delta', item_id: 'msg_1', delta: 'Done.' }),
    ev({ type: 'response.completed', response: { id: 'resp_1', model: 'gpt-4o', status: 'completed', usage: { input_tokens: 7, output_tokens: 3 },
      output: [{ id: 'fc_1', type: 'function_call', call_id: 'call_9', name: 'get_weather', arguments: '{"city":"Paris"}' }] } }),
  ].join('');

  it('function calls, MCP listings and calls, usage, however split', () => {
    const r = expectSameHoweverSplit('openai-responses', 'text/event-stream', stream);
    expect(r.toolUses.map((u) => [u.kind, u.id, u.name, u.input, u.serverLabel])).toEqual([
      ['mcp_call', 'mcp_1', 'list_schemas', { q: 1 }, 'litellm'],
      ['function_call', 'call_9', 'get_weather', { city: 'Paris' }, null],
    ]);
    expect(r.mcpListings).toEqual([{ serverLabel: 'litellm', tools: ['list_schemas'], error: null }]);
    expect(r.serverResults).toEqual([{ toolUseId: 'mcp_1', isError: false, text: 'public' }]);
    expect(r).toMatchObject({ id: 'resp_1', model: 'gpt-4o', text: 'Done.', stopReason: 'completed', usage: { input_tokens: 7, output_tokens: 3 }, complete: true });
  });

  it("LiteLLM's non-streamed items (mcp_tools_fetched, tool_execution_results), a failed listing, a request", () => {
    const body = { id: 'resp_2', model: 'gpt-4o', status: 'completed', output: [
      { type: 'message', id: 'm1', role: 'assistant', content: [{ type: 'output_text', text: 'schemas: public' }] },
      { type: 'mcp_tools_fetched', id: 'mcp_tools_1', status: 'completed', role: 'system', content: [{ type: 'output_text', text: JSON.stringify([{ type: 'function', function: { name: 'db_main-list_schemas' } }]) }] },
      { type: 'tool_execution_results', id: 'tool_results_1', status: 'completed', role: 'system', content: [{ type: 'output_text', text: JSON.stringify([{ tool_call_id: 'call_1', result: 'Error: Tool list_schemas not found' }]) }] },
    ] };
    const r = decode('openai-responses', 'application/json', [Buffer.from(JSON.stringify(body))]);
    expect(r.text).toBe('schemas: public');
    expect(r.mcpListings).toEqual([{ serverLabel: 'litellm_proxy', tools: ['db_main-list_schemas'], error: null }]);
    expect(r.serverResults).toEqual([{ toolUseId: 'call_1', isError: true, text: 'Error: Tool list_schemas not found' }]);
    const failed = decode('openai-responses', 'text/event-stream', [Buffer.from(ev({ type: 'response.mcp_list_tools.failed', server_label: '' }) + ev({ type: 'error', code: 'server_error', message: 'boom' }))]);
    expect(failed.mcpListings).toEqual([{ serverLabel: '', tools: [], error: 'listing failed' }]);
    expect(failed.error).toEqual({ type: 'server_error', message: 'boom' });
    const req = decodeModelRequest('openai-responses', { model: 'gpt-4o', instructions: 'be nice', previous_response_id: 'resp_1',
      tools: [{ type: 'mcp', server_label: 'litellm', server_url: 'litellm_proxy' }, { type: 'function', name: 'get_weather' }],
      input: [{ type: 'function_call', call_id: 'call_9', name: 'get_weather', arguments: '{}' }, { type: 'function_call_output', call_id: 'call_9', output: 'sunny' }] });
    expect(req).toMatchObject({ toolNames: ['mcp:litellm', 'get_weather'], system: '"be nice"', previousResponseId: 'resp_1',
      mcpServers: [{ name: 'litellm', url: 'litellm_proxy' }], toolResults: [{ toolUseId: 'call_9', isError: false, text: 'sunny' }] });
  });

  it('recognises the APIs by path on any host, and not an MCP endpoint at /messages', () => {
    expect(modelApiOfUrl('POST', '/v1/messages?beta=true')).toBe('anthropic-messages');
    expect(modelApiOfUrl('POST', '/anthropic/v1/messages/count_tokens?beta=true')).toBe('anthropic-count-tokens');
    expect(modelApiOfUrl('POST', '/openai/v1/chat/completions')).toBe('openai-chat');
    expect(modelApiOfUrl('POST', '/v1/responses')).toBe('openai-responses');
    expect(modelApiOfUrl('GET', '/v1/messages')).toBeNull();
    expect(modelApiOfUrl('POST', '/mcp')).toBeNull();
    expect(looksLikeModelRequest('anthropic-messages', { jsonrpc: '2.0', id: 1, method: 'tools/list' })).toBe(false);
  });
});
