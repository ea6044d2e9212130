"""A revision 2026-07-28 server on the MCP Python SDK 2.x (MCPServer), for the interop suite.

Tools: echo, slow (progress), fail (isError), ask (ctx.elicit: no back-channel on a stateless request),
confirm (the multi-round-trip form: Resolve + Elicit, answered input_required and resumed on the retry).
Run: python mcp2_server.py --transport streamable-http --port N --name NAME   (or --transport stdio)
"""
import argparse
import sys
from typing import Annotated

import anyio
from pydantic import BaseModel

from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve

parser = argparse.ArgumentParser()
parser.add_argument("--transport", default="streamable-http")
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--name", default="v2srv")
args = parser.parse_args()

mcp = MCPServer(args.name)


class Answer(BaseModel):
    name: str


@mcp.tool()
def echo(message: str) -> str:
    """Echo the message back."""
    return f"{args.name}: {message}"


@mcp.tool()
async def slow(steps: int, ctx: Context) -> str:
    """Count to steps, reporting progress."""
    for i in range(1, steps + 1):
        await anyio.sleep(0.05)
        await ctx.report_progress(i, steps)
    return f"counted to {steps}"


@mcp.tool()
def fail() -> str:
    """Always fails."""
    raise ValueError("this tool always fails")


@mcp.tool()
async def ask(ctx: Context) -> str:
    """Asks the user mid-call (the pre-2026 form)."""
    result = await ctx.elicit("Your name?", Answer)
    return f"hello {getattr(result, 'data', None)}"


def who(ctx: Context) -> Elicit[Answer]:
    return Elicit("Your name?", Answer)


@mcp.tool()
def confirm(answer: Annotated[Answer, Resolve(who)]) -> str:
    """Asks the user through the multi-round-trip form."""
    return f"hello {answer.name}"


print(f"{args.name}: MCPServer {args.transport} starting", file=sys.stderr, flush=True)
if args.transport == "stdio":
    mcp.run()
else:
    mcp.run(transport="streamable-http", host="127.0.0.1", port=args.port)
