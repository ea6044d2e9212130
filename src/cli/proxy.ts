import fs from 'node:fs';
import type { Command } from 'commander';
import { startProxy, type RunningProxy } from '../proxy/server.js';
import { terminalSafe } from '../model/terminal.js';
import { attachLiveChecks } from '../analysis/checks/live.js';
import { CaptureStore } from '../store/read.js';
import { probeTarget, type TargetProbe } from '../proxy/probe.js';
import { bannerLines, connectLines } from './banner.js';
import { DEFAULT_MAX_BODY, DEFAULT_MAX_STREAM_BODY } from '../capture/engine.js';
import { LIMIT_DEFAULTS } from '../capture/limits.js';
import { loadRoutes, printRoutesBanner } from './proxy-routes.js';
import { parseMetricsListen, resolveOtlp, startTelemetry, type RunningTelemetry } from '../telemetry/setup.js';
import { Interceptor } from '../proxy/intercept.js';
import { serveHoldChannel, type HoldChannel } from '../proxy/hold-channel.js';
import { FILTER_HELP } from './show.js';
import { action, dbOption, portGuardOptions, examples, parseBytes, parseIntOption, preferInteractive, resolveDb } from './common.js';
import { forwardCaLines, forwardEnvLines, forwardPolicy, type ForwardCliOptions } from './forward.js';
import { caFiles } from '../proxy/ca-files.js';
import { UsageError } from '../errors.js';

export interface ProxyCliOptions extends ForwardCliOptions {
  forward?: boolean;
  target?: string;
  routes?: string;
  port: number;
  host: string;
  db?: string;
  label?: string;
  redact: boolean;
  maxBody: number;
  maxStreamBody: number;
  insecure?: boolean;
  name: string;
  ui?: boolean;
  liveChecks: boolean;
  gatewayDebug?: boolean;
  otlp?: string;
  otlpPayloads?: boolean;
  metrics?: { host: string; port: number };
  hold?: string;
  allowHost: string[];
  allowOrigin: string[];
  maxDecoded: number;
  maxMessages: number;
  maxStoredPerClient: number;
  maxStored: number;
  maxStreamsPerClient: number;
  maxStreams: number;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

export function registerProxy(program: Command, hooks: { onStarted?: (p: RunningProxy, o: ProxyCliOptions) => Promise<void> } = {}): void {
  program
    .command('proxy')
    .description('run the capture proxy in front of an MCP server or gateway')
    .option('--target <url>', 'upstream origin with optional path prefix, e.g. http://localhost:4000, or localhost:4000 (http:// assumed) (without it: the routes `mcptap claude install` wrote)')
    .option('--routes <file>', 'routes file to serve when there is no --target (default: $MCPTAP_ROUTES or ~/.mcptap/routes.json)')
    .option('--port <n>', 'port to listen on (0 picks a free one)', parseIntOption('--port', 0, 65535), 8808)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .addOption(dbOption())
    .addOption(portGuardOptions()[0])
    .addOption(portGuardOptions()[1])
    .option('--label <text>', 'name the sessions of this run (shown in lists and the TUI)')
    .option('--no-redact', 'store secrets (authorization, cookies, API keys) as sent')
    .option('--max-body <bytes>', 'cap on the stored copy of each body and message (forwarding is never capped)', parseBytes('--max-body'), DEFAULT_MAX_BODY)
    .option('--max-stream-body <bytes>', 'cap on the stored raw copy of an event stream (each event is stored as a message regardless)', parseBytes('--max-stream-body'), DEFAULT_MAX_STREAM_BODY)
    .option('--max-decoded <bytes>', 'stop reading a compressed body that decodes to this much and over 200 times its size (bombs; forwarding is whole)', parseBytes('--max-decoded'), LIMIT_DEFAULTS.maxDecoded)
    .option('--max-messages <n>', 'store at most N messages of one exchange or WebSocket connection', parseIntOption('--max-messages', 1, 1_000_000_000), LIMIT_DEFAULTS.maxMessages)
    .option('--max-stored-per-client <bytes>', 'bodies stored per minute for one client; past it they are stored cut to 1 KB', parseBytes('--max-stored-per-client'), LIMIT_DEFAULTS.maxStoredPerClient)
    .option('--max-stored <bytes>', 'bodies stored per minute for all clients together', parseBytes('--max-stored'), LIMIT_DEFAULTS.maxStored)
    .option('--max-streams-per-client <n>', 'event streams one client may have decoded at once; further ones are forwarded, not decoded', parseIntOption('--max-streams-per-client', 1, 10_000_000), LIMIT_DEFAULTS.maxStreamsPerClient)
    .option('--max-streams <n>', 'event streams decoded at once for all clients together', parseIntOption('--max-streams', 1, 10_000_000), LIMIT_DEFAULTS.maxStreams)
    .option('--insecure', 'accept any TLS certificate from an https target')
    .option('--name <name>', 'server name used in the printed `claude mcp add` lines', 'mcptap')
    .option('--ui', 'run the terminal UI in this process (q stops both)')
    .option('--no-live-checks', 'do not print check findings while traffic flows')
    .option('--forward', 'a forward proxy (HTTPS_PROXY) instead of --target: sees Claude Code unmodified; see mcptap claude env --forward')
    .option('--intercept <host...>', 'with --forward: also decrypt these hosts (default: the model API hosts and the hosts of Claude Code\'s MCP servers)')
    .option('--intercept-all', 'with --forward: decrypt every host')
    .option('--passthrough <host...>', 'with --forward: always tunnel these hosts blind (host, port, bytes and times only)')
    .option('--upstream-ca <file...>', 'with --forward: more CA certificates (PEM) to trust for the real hosts')
    .option('--hold <filter>', `hold the client messages that match (${FILTER_HELP}) until you forward, edit in $EDITOR, answer in the server's place or drop them (h in the UI: with --ui, or in mcptap tui --db attached to this proxy, which holds only while a TUI is attached and forwards what it held when the last one quits); over Streamable HTTP, legacy SSE and WebSocket (fragmented and compressed frames too), one message at a time; with dir:s2c the server's events, JSON answers and frames instead`)
    .option('--gateway-debug', "ask LiteLLM what it resolved for each MCP request (adds x-litellm-mcp-debug: true; its x-mcp-debug-* answer headers are kept, redacted)")
    .option('--otlp <url>', 'stream OpenTelemetry spans (OTLP/HTTP) to this collector as exchanges complete, e.g. http://127.0.0.1:4318 (default: $OTEL_EXPORTER_OTLP_ENDPOINT when set)')
    .option('--otlp-payloads', 'put tool arguments and results (redacted as stored) on the exported spans')
    .option('--metrics <[host:]port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (host defaults to 127.0.0.1)', parseMetricsListen)
    .addHelpText('after', examples(
      'mcptap proxy --target http://localhost:4000',
      'mcptap proxy --target http://localhost:4000 --otlp http://127.0.0.1:4318 --metrics 9464   # Jaeger/any OTLP collector, Prometheus',
      'mcptap proxy --target http://localhost:4000 --port 0 --label gateway --db ./gw.db',
      'mcptap proxy --target http://localhost:4000 --gateway-debug   # LiteLLM: what it resolved, per request',
      'claude mcp add --transport http litellm http://127.0.0.1:8808/mcp   # then use Claude Code as usual',
      'mcptap claude install && mcptap proxy   # every server Claude Code uses, on the port install chose',
      'mcptap proxy --forward   # then: eval "$(mcptap claude env --forward)" && claude',
      'mcptap proxy --forward --intercept mcp.example.com --passthrough statsig.anthropic.com',
      "mcptap proxy --target http://localhost:4000 --ui --hold 'method:tools/call tool:execute_sql'   # hold each such call (intercept)",
      "mcptap proxy --target http://localhost:4000 --ui --hold 'dir:s2c tool:execute_sql'   # hold the answers to them instead",
      "mcptap proxy --target http://localhost:4000 --hold 'method:tools/call'   # then, in another terminal: mcptap tui (h: the held screen)",
    ))
    .action(action(async (opts: ProxyCliOptions, cmd: Command) => {
      const db = resolveDb(opts.db);
      if (opts.forward && (opts.target || opts.routes)) throw new UsageError('--forward takes no --target or --routes: each request names its own host');
      if (!opts.forward && (opts.intercept || opts.interceptAll || opts.passthrough || opts.upstreamCa)) throw new UsageError('--intercept, --intercept-all, --passthrough and --upstream-ca go with --forward');
      const policy = opts.forward ? forwardPolicy(opts) : null;
      const interceptor = opts.hold != null ? new Interceptor(opts.hold) : undefined;
      const otlp = resolveOtlp(opts.otlp);
      const served = opts.target || policy ? null : await loadRoutes(opts.routes, cmd.getOptionValueSource('port') === 'default' ? null : opts.port);
      if (served) opts.port = served.port;
      // With the UI on screen, lines go to its footer (and all of them to stderr once it is gone).
      const listeners = new Set<(line: string) => void>();
      const heldForUi: string[] = [];
      // Warnings and live findings quote what peers sent: escaped for the terminal.
      const say = (text: string) => {
        const line = terminalSafe(text);
        if (!opts.ui) return void process.stderr.write(line + '\n');
        heldForUi.push(line);
        for (const f of listeners) f(line);
      };
      // A proxy that could not start (the port taken) leaves no empty database behind.
      const fresh = !fs.existsSync(db);
      const proxy = await startProxy({
        target: opts.target, routes: served?.routes, port: opts.port, host: opts.host, db, label: opts.label ?? null,
        redact: opts.redact, maxBody: opts.maxBody, maxStreamBody: opts.maxStreamBody, insecure: opts.insecure,
        gatewayDebug: !!opts.gatewayDebug, interceptor,
        forward: policy ? { policy, upstreamCa: opts.upstreamCa } : undefined,
        allowHosts: opts.allowHost, allowOrigins: opts.allowOrigin,
        limits: { maxDecoded: opts.maxDecoded, maxMessages: opts.maxMessages, maxStoredPerClient: opts.maxStoredPerClient, maxStored: opts.maxStored, maxStreamsPerClient: opts.maxStreamsPerClient, maxStreams: opts.maxStreams },
        onWarning: (m) => say(`mcptap: warning: ${m}`),
      }).catch((e) => {
        if (fresh) for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
        throw e;
      });
      let telemetry: RunningTelemetry | null = null;
      let channel: HoldChannel | null = null;
      try {
        // --hold: what is held is served to `mcptap tui` beside this proxy (hold-channel.ts).
        // With --ui its own screen decides: a channel that cannot be served is only said.
        if (interceptor) channel = await serveHoldChannel(interceptor, db, !!opts.ui).catch((e: Error) => {
          if (!opts.ui) throw e;
          say(`mcptap: warning: no TUI beside this one can attach: ${e.message}`);
          return null;
        });
        telemetry = await startTelemetry(proxy.engine.hub, {
          otlp, metrics: opts.metrics, payloads: opts.otlpPayloads, warn: (m) => say(`mcptap: warning: ${m}`),
          records: () => ({ captured: proxy.stats().written, dropped: proxy.stats().droppedWrites }),
        });
      } catch (e) {
        await channel?.close();
        await proxy.close();
        throw e;
      }
      if (channel && !opts.ui) say(`mcptap: holding what matches "${opts.hold}" while a TUI is attached: mcptap tui --db ${db}`);
      // Each error finding, once, as one line, while traffic flows (`mcptap check` has the details). Attached before
      // the target is probed: a slow target delays the banner, never what is said of the traffic already flowing.
      if (opts.liveChecks) attachLiveChecks(proxy.engine.hub, (line) => say(`mcptap: ${line}`), { onFinding: telemetry ? (f) => telemetry!.onFinding(f) : undefined });
      if (telemetry?.metricsUrl) say(`mcptap: metrics at ${telemetry.metricsUrl}`);
      if (otlp) say(`mcptap: sending spans to ${otlp.url ?? 'the collector in OTEL_EXPORTER_OTLP_ENDPOINT'}`);
      if (!LOOPBACK.test(opts.host)) {
        process.stderr.write(`mcptap: warning: listening on ${opts.host}, not loopback: anyone who can reach this address can use the proxy and read what it forwards\n`);
      }
      let probe: TargetProbe | null = null;
      if (policy) {
        const lines = [
          `mcptap forward proxy on ${proxy.url} → captures in ${db}`,
          `  decrypts: ${policy.all ? 'every host' : policy.hosts.join(', ')}${policy.passthrough.length ? `; never: ${policy.passthrough.join(', ')}` : ''}; everything else is tunnelled blind`,
          ...forwardCaLines(await (await import('../proxy/ca.js')).caNames()),
          '  start Claude Code with:',
          ...forwardEnvLines(proxy.url, caFiles().certPath).map((l) => `    export ${l}`),
          '    claude',
        ];
        say(lines.join('\n'));
      } else if (served) {
        if (!opts.ui) printRoutesBanner(proxy, db, served.file);
      } else {
        // Listening already: the probe delays only the banner, never traffic.
        probe = await probeTarget(proxy.target, { insecure: opts.insecure });
        if (!opts.ui) process.stdout.write(bannerLines(proxy, db, opts, probe).join('\n') + '\n');
        else if (!probe.reachable) say(`mcptap: warning: the target ${proxy.target.display} is not reachable (${probe.error}); the proxy runs anyway`);
      }
      if (opts.ui) {
        preferInteractive();
        const { runTui } = await import('../../ui/run.js');
        const store = CaptureStore.open(db, { readonly: true });
        let code = 0;
        try {
          code = await runTui({
            interceptor,
            store,
            proxy: { url: proxy.url, target: proxy.target.display, connect: connectLines(proxy, opts.name, probe)[0] },
            notices: (f) => {
              listeners.add(f);
              return () => listeners.delete(f);
            },
          });
        } finally {
          store.close();
          // Whatever is still held goes on as it came: the client is not left waiting on a proxy that is gone.
          await channel?.close();
          interceptor?.releaseAll();
          await proxy.close();
          await telemetry?.close();
        }
        for (const line of heldForUi) process.stderr.write(line + '\n');
        process.stderr.write(`mcptap: proxy stopped; ${proxy.stats().written} records written to ${db}\n`);
        return code;
      }
      const stop = async (signal: string) => {
        process.stderr.write(`\nmcptap: ${signal}: flushing captures and stopping\n`);
        await channel?.close();
        interceptor?.releaseAll();
        await proxy.close();
        await telemetry?.close();
        const st = proxy.stats();
        const spans = telemetry?.stats();
        const spanLine = spans ? `; ${spans.exported} spans exported${spans.dropped ? `, ${spans.dropped} dropped` : ''}` : '';
        process.stderr.write(`mcptap: stopped after ${st.exchanges} exchanges; ${st.written} records written${st.droppedWrites ? `, ${st.droppedWrites} dropped` : ''}${spanLine}\n`);
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('interrupted'));
      process.once('SIGTERM', () => void stop('terminated'));
      if (hooks.onStarted) await hooks.onStarted(proxy, opts);
      // Keep running until a signal: the server holds the event loop open.
      return new Promise<number>(() => {});
    }));
}
