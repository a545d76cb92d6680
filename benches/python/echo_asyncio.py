"""A TCP echo server on asyncio streams (or on uvloop with --uvloop), for braid's `compare`.

It listens on 127.0.0.1 on a free port and prints one JSON line, {"port": N}, once it
accepts connections; {"error": "..."} instead if uvloop was asked for and is missing. It
runs until it is killed or its standard input closes, so it never outlives the program that
started it.
"""

import argparse
import asyncio
import json
import os
import socket
import sys
import threading


async def echo(reader, writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve():
    server = await asyncio.start_server(echo, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    async with server:
        await server.serve_forever()


def exit_when_stdin_closes():
    sys.stdin.read()
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args()
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    if args.uvloop:
        try:
            import uvloop
        except ImportError:
            print(json.dumps({"error": "uvloop is not installed (pip install uvloop)"}), flush=True)
            return
        uvloop.install()
    asyncio.run(serve())


if __name__ == "__main__":
    main()
