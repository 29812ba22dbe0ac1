"""A node's published port: the local site's stand-in for a cloud's public IP with one port open.

The host never forwards between bridges (no route from one local site to another). A node that asks
for a public address with ports (e.g. a VPN central point's 1194/udp) gets, for each such port, this
user-space relay listening on its site's bridge address: nodes of any local site reach the host's
bridge addresses (they are the host's own), so that one port, and nothing else, crosses sites.

Run as ``python -m ansible_collections.indigo.paas.plugins.module_utils.localsite.relay LISTEN_IP PORT PROTO TARGET_IP``.
"""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys

from ansible_collections.indigo.paas.plugins.module_utils.localsite.errors import LocalSiteError
from ansible_collections.indigo.paas.plugins.module_utils.localsite.host import clean_env, pid_alive


# the directory holding ansible_collections/ (a checkout, an installed path or a module's payload zip):
# the relay process imports this module from there
_COLLECTIONS_ROOT = os.path.abspath(__file__).rsplit(os.sep + "ansible_collections" + os.sep, 1)[0]
READY = "indigo-relay ready"
START_TIMEOUT = 60.0


class _UdpUpstream(asyncio.DatagramProtocol):
    def __init__(self, front, client):
        self.front, self.client, self.transport = front, client, None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.front.sendto(data, self.client)


class _UdpFront(asyncio.DatagramProtocol):
    """One upstream socket per client address, so replies go back to the client that asked."""

    def __init__(self, target):
        self.target, self.transport, self.upstreams = target, None, {}

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        upstream = self.upstreams.get(addr)
        if upstream is None:
            asyncio.ensure_future(self._open(addr, data))
        elif upstream.transport is not None:
            upstream.transport.sendto(data)

    async def _open(self, addr, first):
        loop = asyncio.get_running_loop()
        _transport, upstream = await loop.create_datagram_endpoint(
            lambda: _UdpUpstream(self.transport, addr), remote_addr=self.target)
        self.upstreams[addr] = upstream
        upstream.transport.sendto(first)


async def _pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _tcp_client(reader, writer, target):
    try:
        up_reader, up_writer = await asyncio.open_connection(*target)
    except OSError:
        writer.close()
        return
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def serve(listen_ip: str, port: int, proto: str, target_ip: str) -> None:
    loop = asyncio.get_running_loop()
    target = (target_ip, port)
    if proto == "udp":
        await loop.create_datagram_endpoint(lambda: _UdpFront(target), local_addr=(listen_ip, port))
        _say_ready()
        await asyncio.Event().wait()
    server = await asyncio.start_server(lambda r, w: _tcp_client(r, w, target), listen_ip, port)
    _say_ready()
    async with server:
        await server.serve_forever()


def _say_ready() -> None:
    """Tell the starter the port is bound (one line on stdout, then stdout is closed)."""
    sys.stdout.write(READY + "\n")
    sys.stdout.flush()
    sys.stdout.close()


def start(listen_ip: str, port: int, proto: str, target_ip: str, log_path, timeout: float = START_TIMEOUT) -> int:
    """Start one relay in the background (nothing of the caller's environment); returns its PID once the
    port is bound, so the first packet sent after this returns is relayed (a loaded host can take seconds
    to start a Python process)."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ansible_collections.indigo.paas.plugins.module_utils.localsite.relay", listen_ip, str(port), proto, target_ip],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, start_new_session=True,
            env=dict(clean_env(), PYTHONPATH=_COLLECTIONS_ROOT))
    ready = select.select([proc.stdout], [], [], timeout)[0]
    line = proc.stdout.readline().decode(errors="replace").strip() if ready else ""
    proc.stdout.close()
    if line != READY:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            raise LocalSiteError("the relay for %s/%s on %s did not start in %.0f s: see %s"
                                 % (port, proto, listen_ip, timeout, log_path))
        raise LocalSiteError("cannot publish %s/%s on %s (another node of this site publishes it?): see %s"
                             % (port, proto, listen_ip, log_path))
    return proc.pid


def stop(pid) -> None:
    if pid and pid_alive(pid):
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass


def main(argv) -> int:
    listen_ip, port, proto, target_ip = argv
    if proto not in ("tcp", "udp"):
        print("protocol must be tcp or udp", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(listen_ip, int(port), proto, target_ip))
    except OSError as exc:
        print("relay %s:%s/%s: %s" % (listen_ip, port, proto, exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
