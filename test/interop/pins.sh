# The exact versions the interop suite runs (read by setup.sh and, through peers.ts, by the tests).
# 1.77.3: the version in the field reports this project started from. 1.108.7: the newest release whose
# [proxy] extra installs from PyPI here (2026-12-01): from 1.108.8 on it needs litellm-enterprise 0.1.79.post2, from 1.108.13 litellm-proxy-extras
# 0.4.110.post1 or later, and 1.110.x a litellm-proxy package, neither of which the registry serves.
LITELLM_PINS=(1.77.3 1.108.7)
# Extra requirements per pin (LITELLM_EXTRA_<version with _ for .>). 1.77.3's mcp 1.12.4 imports a pydantic
# internal (eval_type_backport) that pydantic 2.13 removed: without this pin LiteLLM's MCP server fails at start-up.
LITELLM_EXTRA_1_77_3="pydantic==2.12.5 anyio==4.10.0"
# The MCP Python SDK whose FastMCP serves the upstream MCP servers behind LiteLLM (the last 1.x release).
MCP_SERVER_PIN=1.30.0
# The MCP Python SDK 2.x: MCPServer, which speaks revision 2026-07-28 (and still accepts a 2025-11-25 initialize).
MCP2_PIN=2.3.0
# The standalone fastmcp package (not the SDK's FastMCP).
FASTMCP_PIN=4.2.3
# crystaldba's postgres-mcp. 0.3.0 pins a pglast the registry does not serve: setup.sh installs it --no-deps with
# pglast 7.20 and mcp<2 beside its other requirements.
POSTGRES_MCP_PIN=0.3.0
POSTGRES_MCP_PGLAST=7.20
# Jaeger v2 (the Go module's v1.75.0 tag is the v2.12.0 release), built with `go get -tool`.
JAEGER_PIN=v1.75.0
