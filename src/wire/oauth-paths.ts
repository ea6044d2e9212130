// Where MCP clients look for OAuth metadata: the protected resource's (RFC 9728 §3.1, with or without
// the resource's path after it), the authorization server's (RFC 8414) and OpenID Connect discovery.

/** A path (query allowed) the client fetches protected-resource metadata from. */
export const isResourceMetadataPath = (path: string): boolean => /^\/\.well-known\/oauth-protected-resource(\/|\?|$)/.test(path);

/** A path (query allowed) of any OAuth discovery document. */
export const isOAuthDiscoveryPath = (path: string): boolean =>
  /^\/\.well-known\/(oauth-protected-resource|oauth-authorization-server|openid-configuration)(\/|\?|$)/.test(path);
