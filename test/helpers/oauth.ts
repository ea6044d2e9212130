import http from 'node:http';
import https from 'node:https';
import express from 'express';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { getOAuthProtectedResourceMetadataUrl, mcpAuthMetadataRouter, mcpAuthRouter, createOAuthMetadata } from '@modelcontextprotocol/sdk/server/auth/router.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { DemoInMemoryAuthProvider } from '@modelcontextprotocol/sdk/examples/server/demoInMemoryOAuthProvider.js';
import { echoServer, listen, streamableHandler, type Peer } from './peers.js';

// An MCP server behind OAuth, built from the SDK's own parts: an authorization server (mcpAuthRouter
// with the SDK's in-memory demo provider, which approves every login) on one port, and a resource
// server on another that answers 401 with a resource_metadata challenge, publishes its protected-
// resource metadata (RFC 9728) and serves MCP to bearer tokens the authorization server issued.

export interface OAuthPeer extends Peer {
  /** The authorization server's URL (its issuer). */
  issuer: string;
  /** Tokens issued so far. */
  issued: () => string[];
}

/** `resource` overrides the resource the metadata names (default: the server's own /mcp URL). */
/**
 * `strictAudience`: tokens are accepted only for the server's own URL (RFC 8707), as strict resource
 * servers do. `ownAuthorizationServer`: the server is its own authorization server and publishes no
 * resource metadata (the 2025-03-26 way, and a gateway's): clients fall back to its origin's
 * /.well-known/oauth-authorization-server.
 */
/**
 * `tls`: both servers speak HTTPS with this certificate, reached by the name it is for (a "real" host behind
 * mcptap's forward proxy).
 */
export async function startOAuthServer(opts: { resource?: (ownUrl: string) => string; strictAudience?: boolean; ownAuthorizationServer?: boolean; tls?: { key: string; cert: string; host: string } } = {}): Promise<OAuthPeer> {
  const provider = new DemoInMemoryAuthProvider();
  if (opts.ownAuthorizationServer) return startSelfAuthorizingServer(provider);
  const origin = (port: number) => opts.tls ? `https://${opts.tls.host}:${port}` : `http://127.0.0.1:${port}`;
  const newServer = () => (opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }) : http.createServer()) as http.Server;
  const asServer = newServer();
  const as = await listen(asServer);
  const issuer = new URL(origin(as.port));
  const asApp = express();
  asApp.use(mcpAuthRouter({ provider, issuerUrl: issuer }));
  asServer.on('request', asApp);

  const rsServer = newServer();
  const rs = await listen(rsServer);
  const url = origin(rs.port);
  const own = new URL(url + '/mcp');
  const resource = new URL(opts.resource ? opts.resource(own.href) : own.href);
  const mcp = streamableHandler(echoServer, '/mcp');
  const rsApp = express();
  rsApp.use(mcpAuthMetadataRouter({ oauthMetadata: createOAuthMetadata({ provider, issuerUrl: issuer }), resourceServerUrl: resource }));
  const verifier = {
    verifyAccessToken: async (token: string) => {
      const info = await provider.verifyAccessToken(token);
      if (opts.strictAudience && info.resource?.href !== own.href) throw new InvalidTokenError(`token is for ${info.resource?.href}, not ${own.href}`);
      return info;
    },
  };
  rsApp.all('/mcp', requireBearerAuth({ verifier, resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(own) }), (req, res) => void mcp.handle(req, res));
  rsServer.on('request', rsApp);
  return {
    url,
    endpoint: own.href,
    port: rs.port,
    issuer: issuer.href,
    issued: () => [...(provider as unknown as { tokens: Map<string, unknown> }).tokens.keys()],
    sessions: mcp.sessions,
    close: async () => {
      await mcp.closeAll();
      await rs.close();
      await as.close();
    },
  };
}

/**
 * An OAuth client as Claude Code is one: dynamic registration, PKCE, and a "browser" that opens the
 * authorization URL and brings back the code the authorization server redirects with.
 */
export class TestOAuthClient implements OAuthClientProvider {
  readonly redirectUrl = 'http://127.0.0.1:9/callback';
  private info: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier = '';
  /** The code of the last login, once the "browser" came back with it. */
  code: string | null = null;

  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'mcptap-test', redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post' };
  }

  clientInformation() {
    return this.info;
  }

  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }

  tokens() {
    return this.saved;
  }

  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }

  async redirectToAuthorization(url: URL) {
    const r = await fetch(url, { redirect: 'manual' });
    const to = r.headers.get('location');
    if (!to) throw new Error(`authorization answered ${r.status} without a redirect: ${await r.text()}`);
    this.code = new URL(to).searchParams.get('code');
  }

  saveCodeVerifier(v: string) {
    this.verifier = v;
  }

  codeVerifier() {
    return this.verifier;
  }
}

async function startSelfAuthorizingServer(provider: DemoInMemoryAuthProvider): Promise<OAuthPeer> {
  const server = http.createServer();
  const l = await listen(server);
  const url = `http://127.0.0.1:${l.port}`;
  const mcp = streamableHandler(echoServer, '/mcp');
  const app = express();
  app.use('/.well-known/oauth-protected-resource', (_req, res) => void res.status(404).json({ error: 'not_found' }));
  app.use(mcpAuthRouter({ provider, issuerUrl: new URL(url) }));
  app.all('/mcp', requireBearerAuth({ verifier: provider }), (req, res) => void mcp.handle(req, res));
  server.on('request', app);
  return {
    url, endpoint: url + '/mcp', port: l.port, issuer: url + '/',
    issued: () => [...(provider as unknown as { tokens: Map<string, unknown> }).tokens.keys()],
    sessions: mcp.sessions,
    close: async () => {
      await mcp.closeAll();
      await l.close();
    },
  };
}
