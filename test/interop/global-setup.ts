import { pins, venvProgram } from './peers.js';
import { jaegerProgram, prometheusPrograms } from './observability.js';
import { assertPostgres } from './postgres.js';

/** Fails the whole suite in one line when setup.sh has not installed a peer (never a silent skip). */
export default function setup(): void {
  const p = pins();
  if (!p.litellm.length || !p.mcp) throw new Error('interop: test/interop/pins.sh names no LiteLLM or mcp pin');
  for (const v of p.litellm) venvProgram(`.venv-litellm-${v}`, 'litellm');
  venvProgram('.venv-mcp', 'python');
  // The trace and metrics backends (otel-jaeger, prometheus): missing, the suite fails here.
  jaegerProgram();
  prometheusPrograms();
  // Revision 2026-07-28 peers (test/interop/rev2026.test.ts): the Python SDK 2.x server and client.
  venvProgram('.venv-mcp2', 'python');
  venvProgram('.venv-fastmcp', 'python');
  venvProgram('.venv-postgres-mcp', 'postgres-mcp');
  assertPostgres();
}
