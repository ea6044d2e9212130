import fs from 'node:fs';
import path from 'node:path';
import { freePort, startChild, tempDir, venvProgram, type Child } from './peers.js';

// LiteLLM's proxy from PyPI, configured by the test: a master key and no database, MCP servers the test
// started, and a model whose api_base is the test's local stand-in for the Anthropic API. Nothing leaves
// the machine: the cost map is the packaged one, telemetry is off, no callbacks.

export const MASTER_KEY = 'sk-interop-master-1234';
export const MODEL = 'claude-interop';

export interface McpServerEntry {
  url: string;
  transport: 'sse' | 'http';
  /** Extra YAML keys (alias, auth_type…), as written. */
  extra?: Record<string, string>;
}

export interface LiteLLMConfig {
  mcpServers: Record<string, McpServerEntry>;
  /** The local Anthropic stand-in (origin). */
  modelApiBase?: string;
  env?: Record<string, string>;
}

export interface LiteLLM extends Child {
  version: string;
}

function yaml(cfg: LiteLLMConfig): string {
  const lines: string[] = [];
  if (cfg.modelApiBase) {
    lines.push('model_list:', `  - model_name: ${MODEL}`, '    litellm_params:', '      model: anthropic/claude-sonnet-4-5',
      `      api_base: ${cfg.modelApiBase}`, '      api_key: sk-ant-interop-not-a-key');
  } else {
    lines.push('model_list: []');
  }
  lines.push('mcp_servers:');
  for (const [name, s] of Object.entries(cfg.mcpServers)) {
    lines.push(`  ${name}:`, `    url: "${s.url}"`, `    transport: "${s.transport}"`);
    for (const [k, v] of Object.entries(s.extra ?? {})) lines.push(`    ${k}: ${v}`);
  }
  lines.push('general_settings:', `  master_key: ${MASTER_KEY}`,
    'litellm_settings:', '  telemetry: false', '  callbacks: []', '  success_callback: []', '  failure_callback: []');
  return lines.join('\n') + '\n';
}

/** Starts LiteLLM `version` (one of pins().litellm) and waits for /health/liveliness. */
export async function startLiteLLM(version: string, cfg: LiteLLMConfig): Promise<LiteLLM> {
  const program = venvProgram(`.venv-litellm-${version}`, 'litellm');
  const tmp = tempDir('mcptap-litellm-');
  const config = path.join(tmp.dir, 'config.yaml');
  fs.writeFileSync(config, yaml(cfg));
  const port = await freePort();
  try {
    const child = await startChild(`LiteLLM ${version}`, program, ['--config', config, '--host', '127.0.0.1', '--port', String(port), '--num_workers', '1', '--telemetry', 'False'], {
      port,
      cwd: tmp.dir,
      readyUrl: `http://127.0.0.1:${port}/health/liveliness`,
      ready: (s) => s === 200,
      ms: 180_000,
      env: {
        LITELLM_LOCAL_MODEL_COST_MAP: 'True',
        LITELLM_TELEMETRY: 'False',
        LITELLM_LOG: 'ERROR',
        DISABLE_ADMIN_UI: 'True',
        LITELLM_DONT_SHOW_FEEDBACK_BOX: 'True',
        ...cfg.env,
      },
    });
    return {
      ...child,
      version,
      stop: async () => {
        await child.stop();
        tmp.cleanup();
      },
    };
  } catch (e) {
    tmp.cleanup();
    throw e;
  }
}
