"""The peer matrix's Python servers other than the Python SDK 1.x (fastmcp_server.py serves that one).

Usage: matrix_server.py --impl mcp2|fastmcp --transport sse|streamable-http|stdio [--port PORT] [--name NAME]
mcp2: the MCP Python SDK 2.x MCPServer (revision 2026-07-28; still answers a 2025-11-25 initialize).
fastmcp: the standalone fastmcp package. Listens on 127.0.0.1 only (stdio: no socket).
"""
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--impl", choices=["mcp2", "fastmcp"], required=True)
parser.add_argument("--transport", choices=["sse", "streamable-http", "stdio"], required=True)
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--name", default="matrix")
args = parser.parse_args()

if args.impl == "mcp2":
    from mcp.server.mcpserver import MCPServer

    mcp = MCPServer(args.name, log_level="WARNING")
else:
    from fastmcp import FastMCP

    mcp = FastMCP(args.name)


@mcp.tool()
def echo(message: str) -> str:
    """Echo the message back"""
    return f"{args.name}: {message}"


if args.transport == "stdio":
    mcp.run(transport="stdio")
elif args.impl == "mcp2":
    mcp.run(transport=args.transport, host="127.0.0.1", port=args.port)
else:
    mcp.run(transport="http" if args.transport == "streamable-http" else "sse", host="127.0.0.1", port=args.port, show_banner=False, log_level="WARNING")
