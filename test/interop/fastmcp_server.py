"""A small FastMCP server (the MCP Python SDK) for the interop suite: LiteLLM's upstream.

Usage: fastmcp_server.py --transport sse|streamable-http|stdio [--port PORT] [--name NAME]
Listens on 127.0.0.1 only (stdio: no socket at all). Its tools mimic what postgres-mcp does on the wire: results as one text item,
and its own failures reported as "Error: ..." text without isError.
"""
import argparse
import sys

from mcp.server.fastmcp import FastMCP

parser = argparse.ArgumentParser()
parser.add_argument("--transport", choices=["sse", "streamable-http", "stdio"], required=True)
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--name", default="interop")
args = parser.parse_args()

mcp = FastMCP(args.name, host="127.0.0.1", port=args.port, log_level="WARNING")


@mcp.tool()
def list_schemas() -> str:
    """List all schemas in the database"""
    return "[{'schema_name': 'public', 'schema_owner': 'postgres', 'schema_type': 'User Schema'}]"


@mcp.tool()
def echo(message: str) -> str:
    """Echo the message back"""
    return f"{args.name}: {message}"


@mcp.tool()
def execute_sql(sql: str) -> str:
    """Run a query; failures come back as text, the way postgres-mcp reports them"""
    return f'Error: relation "{sql.split()[-1]}" does not exist'


@mcp.tool()
def explode() -> str:
    """A tool that raises: FastMCP answers isError true"""
    raise ValueError("the tool raised")


if args.transport == "stdio":
    # A line on stderr, as stdio servers log: mcptap wrap must pass it on and record it.
    print(f"{args.name}: FastMCP stdio server starting", file=sys.stderr, flush=True)
mcp.run(transport=args.transport)
