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
