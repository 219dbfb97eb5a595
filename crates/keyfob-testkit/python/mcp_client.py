"""A real MCP client for keyfob's tests: the MCP Python SDK's ClientSession over its stdio
transport, launching the server command given as arguments (with this process's environment).

It declares elicitation (form and URL modes, as the SDK does when given a callback) and prints
one JSON line per event on stdout:
  {"tools": [names]}                       after initialize and tools/list
  {"elicit": {mode, url, message, ...}}    for each elicitation, which it accepts
  {"text": "...", "is_error": bool}        the result of calling $KEYFOB_TEST_TOOL

Usage: python mcp_client.py <command> [args...]
"""

import asyncio
import json
import os
import sys

from mcp import types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


def say(message):
    print(json.dumps(message), flush=True)


async def on_elicit(context, params):
    say({"elicit": params.model_dump(mode="json", by_alias=True, exclude_none=True)})
    return types.ElicitResult(action="accept")


async def main():
    command, *args = sys.argv[1:]
    server = StdioServerParameters(command=command, args=args, env=dict(os.environ))
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write, elicitation_callback=on_elicit) as session:
            await session.initialize()
            listed = await session.list_tools()
            say({"tools": [t.name for t in listed.tools]})
            result = await session.call_tool(os.environ["KEYFOB_TEST_TOOL"], {})
            texts = [c.text for c in result.content if c.type == "text"]
            say({"text": "\n".join(texts), "is_error": bool(result.is_error)})


asyncio.run(main())
