// A small SDK McpServer over StdioServerTransport, run as a child by the wrap tests (from dist/).
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'stdio-test-server', version: '1.0.0' });
server.registerTool('echo', { description: 'Echoes its message', inputSchema: { message: z.string() } }, async ({ message }) => ({ content: [{ type: 'text' as const, text: `echo: ${message}` as string }] }));
server.registerTool('log', { description: 'Writes lines to stderr', inputSchema: { lines: z.array(z.string()) } }, async ({ lines }) => {
  for (const l of lines) process.stderr.write(l + '\n');
  return { content: [{ type: 'text' as const, text: `${lines.length} lines` }] };
});
server.registerTool('exit', { description: 'Exits the process with a code, after answering', inputSchema: { code: z.number() } }, async ({ code }) => {
  setImmediate(() => process.exit(code));
  return { content: [{ type: 'text' as const, text: `exiting ${code}` }] };
});
server.registerTool('env', { description: 'Tells one environment variable and the working directory', inputSchema: { name: z.string() } }, async ({ name }) => ({
  content: [{ type: 'text' as const, text: JSON.stringify({ value: process.env[name] ?? null, cwd: process.cwd() }) }],
}));
// Answers only once the client has closed its side (stdin ended): the late answer of a client that left.
server.registerTool('after-client-left', { description: 'Answers after stdin has ended', inputSchema: {} }, async () => {
  if (!process.stdin.readableEnded) await new Promise((r) => process.stdin.once('end', r));
  return { content: [{ type: 'text' as const, text: 'too late' }] };
});
process.stderr.write('stdio-test-server: ready\n');
await server.connect(new StdioServerTransport());
