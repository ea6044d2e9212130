"""A revision 2026-07-28 client on the MCP Python SDK 2.x (mcp.Client), for the interop suite.

Connects to URL (Streamable HTTP), or with --stdio runs the rest of the command line as a stdio server;
opens a subscriptions/listen, lists tools, calls echo, slow, fail and confirm (answering the server's
input_required elicitation with a name), closes the subscription, and prints what it got as JSON.
"""
import argparse
import json
import sys

import anyio

from mcp import Client, StdioServerParameters, types

parser = argparse.ArgumentParser()
parser.add_argument("--stdio", action="store_true")
parser.add_argument("--calls", default="echo,slow,fail,confirm")
parser.add_argument("--no-listen", action="store_true")
parser.add_argument("target", nargs=argparse.REMAINDER)
args = parser.parse_args()
if args.target and args.target[0] == "--":
    args.target = args.target[1:]


async def elicit(context, params):
    return types.ElicitResult(action="accept", content={"name": "Ada"})


def text(result):
    return " ".join(getattr(c, "text", "") for c in result.content)


async def main():
    server = StdioServerParameters(command=args.target[0], args=args.target[1:]) if args.stdio else args.target[0]
    out = {}
    async with Client(server, elicitation_callback=elicit, client_info=types.Implementation(name="py-mcp2-client", version="2.3.0"), cache=None) as client:
        async def calls():
            tools = await client.list_tools()
            out["tools"] = sorted(t.name for t in tools.tools)
            for name in [c for c in args.calls.split(",") if c]:
                arguments = {"message": "hi"} if name == "echo" else {"steps": 3} if name == "slow" else {}
                r = await client.call_tool(name, arguments)
                out[name] = {"isError": bool(r.is_error), "text": text(r)}
        if args.no_listen:
            await calls()
        else:
            async with client.listen(tools_list_changed=True) as sub:
                out["listening"] = True
                await calls()
    print(json.dumps(out), flush=True)


anyio.run(main)
