import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { caFiles, caInfo } from '../proxy/ca-files.js';

// The certificate library is loaded only by the commands that need it.
const caModule = () => import('../proxy/ca.js');
const ensureCa = async (...a: Parameters<typeof import('../proxy/ca.js').ensureCa>) => (await caModule()).ensureCa(...a);
import { MODEL_API_HOSTS, type InterceptPolicy } from '../proxy/forward.js';
import { entriesOf, fileOf, readConfig, SCOPES } from '../integrations/claude-code.js';
import { UsageError } from '../errors.js';
import { action, examples, printJson } from './common.js';

// Forward mode's CLI: which hosts `proxy --forward` intercepts, `mcptap ca`, and the lines that put Claude Code
// behind the forward proxy (`mcptap claude env --forward`, also printed by the proxy's banner).

export interface ForwardCliOptions {
  intercept?: string[];
  interceptAll?: boolean;
  passthrough?: string[];
  upstreamCa?: string[];
}

const HOST_PATTERN = /^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$|^\[?[0-9a-fA-F:.]+\]?$/;

function hostList(flag: string, list: string[] | undefined): string[] {
  return (list ?? []).flatMap((s) => s.split(',')).map((s) => s.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1')).filter(Boolean).map((h) => {
    if (!HOST_PATTERN.test(h)) throw new UsageError(`${flag} '${h}' is not a host name (example: ${flag} mcp.example.com, or '*.example.com')`);
    return h;
  });
}

/** The hosts of the http/sse servers in Claude Code's config (every scope; the project is the current folder). */
export function claudeCodeMcpHosts(project = process.cwd()): string[] {
  const hosts = new Set<string>();
  for (const scope of SCOPES) {
    let config;
    try {
      config = readConfig(fileOf(scope, project));
    } catch {
      continue;
    }
    if (!config) continue;
    for (const e of entriesOf(config, scope, project)) {
      const url = typeof e.value.url === 'string' ? e.value.url : null;
      if (!url) continue;
      try {
        const u = new URL(url);
        if (u.protocol === 'https:' || u.protocol === 'http:') hosts.add(u.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1'));
      } catch {
        // Not a URL: nothing to intercept for it.
      }
    }
  }
  return [...hosts];
}

export function forwardPolicy(opts: ForwardCliOptions): InterceptPolicy & { fromClaudeCode: string[] } {
  const fromClaudeCode = claudeCodeMcpHosts();
  return {
    all: !!opts.interceptAll,
    hosts: [...new Set([...MODEL_API_HOSTS, ...fromClaudeCode, ...hostList('--intercept', opts.intercept)])],
    passthrough: hostList('--passthrough', opts.passthrough),
    fromClaudeCode,
  };
}

/** The banner's word on a name-constrained CA (`names`: what it may sign for; null: anything). */
export function forwardCaLines(names: string[] | null): string[] {
  return names ? [`  mcptap's CA is name-constrained to ${names.join(', ')}: any other host is tunnelled blind, whatever --intercept says`] : [];
}

/** What a client's environment needs to go through the forward proxy at `proxyUrl` and trust its CA. */
export function forwardEnvLines(proxyUrl: string, caPath: string): string[] {
  return [
    `HTTPS_PROXY=${proxyUrl}`,
    `HTTP_PROXY=${proxyUrl}`,
    'NO_PROXY=localhost,127.0.0.1,::1',
    `NODE_EXTRA_CA_CERTS=${caPath}`,
  ];
}

const shellQuote = (line: string) => {
  const i = line.indexOf('=');
  const v = line.slice(i + 1);
  return /^[A-Za-z0-9_./:,@+-]*$/.test(v) ? `export ${line}` : `export ${line.slice(0, i)}='${v.replace(/'/g, `'\\''`)}'`;
};

/** What `ca --constrain` names: the hosts given, or (none given) the ones `proxy --forward` decrypts by default. */
function constrainTo(value: true | string[]): string[] {
  const hosts = value === true ? forwardPolicy({}).hosts : hostList('--constrain', value);
  if (!hosts.length) throw new UsageError('--constrain needs at least one host (example: --constrain api.anthropic.com mcp.example.com)');
  return hosts;
}

export function registerCa(program: Command): void {
  program
    .command('ca')
    .description("mcptap's certificate authority for proxy --forward: where it is, its fingerprint, how to trust it")
    .option('--reset', 'make a new CA (clients that trusted the old one must be given the new file)')
    .option('--constrain [host...]', "with --reset (or a first CA): name-constrain it to these hosts ('*.example.com': the subdomains); no host: the ones proxy --forward decrypts by default (the model API hosts and Claude Code's MCP servers)")
    .option('--json', 'print the result as JSON')
    .addHelpText('after', examples('mcptap ca', 'mcptap ca --json', 'mcptap ca --reset', 'mcptap ca --reset --constrain   # only the model API hosts and your MCP servers\' hosts',
      "mcptap ca --reset --constrain api.anthropic.com '*.example.com'"))
    .action(action(async (opts: { reset?: boolean; constrain?: true | string[]; json?: boolean }) => {
      const files = caFiles();
      const constrain = opts.constrain ? constrainTo(opts.constrain) : null;
      if (constrain && !opts.reset && fs.existsSync(files.certPath)) throw new UsageError(`--constrain makes a new CA and ${files.certPath} exists: add --reset (clients that trust the old one must be given the new file)`);
      await ensureCa(files, !!opts.reset, constrain);
      const info = caInfo(files)!;
      const names = (await caModule()).caNames(files);
      if (opts.json) return void printJson({ ...info, notAfter: info.notAfter.toISOString(), constrainedTo: names, trust: forwardEnvLines('http://127.0.0.1:8808', info.certPath) });
      process.stdout.write([
        `${opts.reset ? 'new ' : ''}CA certificate: ${info.certPath}`,
        `private key:    ${info.keyPath} (mode 0600; never in a capture or export)`,
        `subject:        ${info.subject}`,
        `SHA-256:        ${info.sha256}`,
        `valid until:    ${info.notAfter.toISOString()}`,
        `signs for:      ${names ? `${names.join(', ')} only (name-constrained; proxy --forward tunnels any other host blind)` : 'any host (not name-constrained; mcptap ca --reset --constrain limits it)'}`,
        '',
        'Trust it in the environment a client starts with (Node reads it at start; in settings.json it has no effect):',
        `  export NODE_EXTRA_CA_CERTS=${info.certPath}`,
        `curl: --cacert ${info.certPath}; Python: SSL_CERT_FILE / REQUESTS_CA_BUNDLE (a bundle with it added).`,
        `Remove it: rm -r ${path.dirname(info.certPath)} (and the variable); nothing else on the machine trusts it.`,
      ].join('\n') + '\n');
    }));
}

/** `mcptap claude env --forward`: the environment lines, printed or written to --env FILE (to source). */
export function claudeEnv(opts: { forward?: boolean; port: number; env?: string; json?: boolean }): Promise<number> | number {
  if (!opts.forward) throw new UsageError('mcptap claude env needs --forward (the base-URL set-up is mcptap claude install --env FILE)');
  return ensureCa().then((files) => {
    const lines = forwardEnvLines(`http://127.0.0.1:${opts.port}`, files.certPath);
    if (opts.json) {
      printJson(Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])));
      return 0;
    }
    const text = lines.map(shellQuote).join('\n') + '\n';
    if (opts.env) {
      fs.writeFileSync(opts.env, `# mcptap forward proxy (mcptap proxy --forward --port ${opts.port}); source this before starting claude\n${text}`);
      process.stderr.write(`mcptap: wrote ${opts.env}; run: source ${opts.env} && claude\n`);
    } else process.stdout.write(text);
    return 0;
  });
}
