"""The MCP Python SDK's client against `mcptap mcp`: lists the tools, calls a few, prints one JSON object.

Usage: mcp_client.py stdio NODE CLI DB   |   mcp_client.py http URL
"""
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client


async def ask(session: ClientSession) -> dict:
    await session.initialize()
    tools = await session.list_tools()
    out = {"tools": sorted(t.name for t in tools.tools), "calls": {}}
    for name, args in [
        ("list_sessions", {"limit": 2}),
        ("check_session", {}),
        ("show_session", {"session": "no-such-session"}),
        ("list_sessions", {"limit": "two"}),
    ]:
        r = await session.call_tool(name, args)
        out["calls"].setdefault(name, []).append({"isError": bool(r.isError), "text": r.content[0].text if r.content else ""})
    resources = await session.list_resources()
    out["resources"] = [str(r.uri) for r in resources.resources]
    return out


async def main() -> None:
    if sys.argv[1] == "stdio":
        params = StdioServerParameters(command=sys.argv[2], args=[sys.argv[3], "mcp", "--db", sys.argv[4]])
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                print(json.dumps(await ask(session)))
    else:
        async with streamablehttp_client(sys.argv[2]) as (read, write, _):
            async with ClientSession(read, write) as session:
                print(json.dumps(await ask(session)))


asyncio.run(main())
