"""The MCP Python SDK 2.x client (revision 2026-07-28 when the server speaks it) for the peer matrix.

Usage: py2_client.py URL   (Streamable HTTP). Prints one JSON line: the protocol version and the echo's text.
"""
import asyncio
import json
import sys

from mcp import Client
from mcp_types import Implementation


async def main(url: str) -> None:
    async with Client(url, client_info=Implementation(name="matrix-py2-client", version="1.0.0")) as client:
        await client.list_tools()
        result = await client.call_tool("echo", {"message": "from python 2"})
        print(json.dumps({"protocol": client.protocol_version, "text": result.content[0].text}), flush=True)


asyncio.run(main(sys.argv[1]))
