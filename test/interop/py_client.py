"""The MCP Python SDK's own client for the peer matrix: connects, lists the tools, calls echo, leaves.

Usage: py_client.py sse|streamable-http URL
Prints one JSON line: the server's name and the echo's text.
"""
import asyncio
import json
import sys

from mcp import ClientSession


async def main(transport: str, url: str) -> None:
    if transport == "sse":
        from mcp.client.sse import sse_client

        ctx = sse_client(url)
    else:
        from mcp.client.streamable_http import streamablehttp_client

        ctx = streamablehttp_client(url)
    async with ctx as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            init = await session.initialize()
            await session.list_tools()
            result = await session.call_tool("echo", {"message": "from python"})
            print(json.dumps({"server": init.serverInfo.name, "text": result.content[0].text}), flush=True)


asyncio.run(main(sys.argv[1], sys.argv[2]))
