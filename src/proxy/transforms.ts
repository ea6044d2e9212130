import { isLiteLLMMcpRoute } from '../capture/gateway.js';

// Changes the proxy makes to a request on its way upstream, as one list: each says whether it applies and
// what it changed, and the forwarder records that on the exchange. Without any transform enabled, the
// request goes on byte for byte (headers as the client sent them, Host aside).

export interface RequestTransform {
  name: string;
  /**
   * Applies to the request (method, upstream path, flat header list as sent): edits `headers` in place and
   * returns what it changed, for the exchange's record, or null when it left the request alone.
   */
  apply(method: string, path: string, headers: string[]): string | null;
}


/**
 * `--gateway-debug`: asks LiteLLM what it resolved for each MCP request (servers, auth, upstream URL),
 * which it answers in `x-mcp-debug-*` response headers (LiteLLM 1.108; 1.77 ignores the header).
 */
export const litellmDebugHeader: RequestTransform = {
  name: 'gateway-debug',
  apply(_method, path, headers) {
    if (!isLiteLLMMcpRoute(path)) return null;
    for (let i = 0; i < headers.length; i += 2) if (headers[i].toLowerCase() === 'x-litellm-mcp-debug') return null;
    headers.push('x-litellm-mcp-debug', 'true');
    return 'request header x-litellm-mcp-debug: true added (--gateway-debug)';
  },
};

export function requestTransforms(opts: { gatewayDebug?: boolean }): RequestTransform[] {
  return opts.gatewayDebug ? [litellmDebugHeader] : [];
}
