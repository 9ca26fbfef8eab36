"""Running the sandbox: build the simulation, advance it (all at once or paced), serve it over HTTP
on loopback, export its ground truth. `manage.py sandbox` is a thin shell over these functions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from inventory_hub.sandbox.faults import FaultInterrupt
from inventory_hub.sandbox.world import World
from inventory_hub.sandbox.wsgi import SandboxApp, dumps_truth

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# Where each product's API lives below its prefix (what a connector's base URL points at).
SYSTEM_ENDPOINTS = {
    "shopify": "/admin/api/2025-04/graphql.json",
    "shiphero": "/graphql",
    "erpnext": "/api/resource/Bin",
}


class SimulationLike(Protocol):
    """What the server needs of `simulation.Simulation`."""

    world: World

    def advance_to(self, t: dt.datetime) -> None: ...


def build_simulation(scenario: str, seed: int | None = None, start: dt.datetime | None = None) -> SimulationLike:
    """The simulation of a scenario (a name or a file), with its seed (and start) replaced when given."""
    from inventory_hub.sandbox.scenario import load_scenario
    from inventory_hub.sandbox.simulation import Simulation

    loaded: Any = load_scenario(scenario)
    if seed is not None and seed != loaded.seed:
        if dataclasses.is_dataclass(loaded) and not isinstance(loaded, type):
            loaded = dataclasses.replace(loaded, seed=seed)
        else:
            loaded.seed = seed
    if start is not None:
        loaded = dataclasses.replace(loaded, start=start)
    return Simulation(loaded)


def advance_days(
    simulation: SimulationLike,
    days: float,
    *,
    step: dt.timedelta = dt.timedelta(days=1),
    on_step: Callable[[dt.datetime], None] | None = None,
) -> dt.datetime:
    """Advance `days` simulated days as fast as possible, in steps (for progress); returns the end time."""
    with simulation.world.lock:
        now = simulation.world.now
    end = now + dt.timedelta(days=days)
    while now < end:
        now = min(now + step, end)
        simulation.advance_to(now)
        if on_step is not None:
            on_step(now)
    return end


class Pacer:
    """Advances a simulation in paced real time: `speed` simulated seconds per real second.

    `run()` loops until `stop()`; each `tick()` advances to start + speed × real time elapsed, so a slow
    step is caught up on the next tick rather than drifting. Clock and wait are injectable for tests.
    """

    def __init__(
        self,
        simulation: SimulationLike,
        *,
        speed: float,
        step_seconds: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.simulation = simulation
        self.speed = speed
        self.step_seconds = step_seconds
        self._clock = clock
        self._stopped = threading.Event()
        self._wait = wait or self._stopped.wait
        self._thread: threading.Thread | None = None
        with simulation.world.lock:
            self.sim_start = simulation.world.now
        self.real_start = clock()

    def tick(self) -> dt.datetime:
        """Advance to where paced time is now; returns that simulated time."""
        elapsed = max(0.0, self._clock() - self.real_start)
        target = self.sim_start + dt.timedelta(seconds=elapsed * self.speed)
        self.simulation.advance_to(target)
        return target

    def run(self) -> None:
        while not self._wait(self.step_seconds) and not self._stopped.is_set():
            self.tick()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="sandbox-pacer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout)


# --- HTTP server --------------------------------------------------------------------------------


class _FaultAwareHandler(ServerHandler):
    """wsgiref's handler, except that a timeout or dropped-connection fault closes without answering."""

    def handle_error(self) -> None:
        if isinstance(sys.exc_info()[1], FaultInterrupt):
            return  # nothing written: the client sees the connection close (or has timed out already)
        super().handle_error()


class _RequestHandler(WSGIRequestHandler):
    def handle(self) -> None:
        # WSGIRequestHandler.handle (CPython 3.11), with our ServerHandler and multithread=True.
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _FaultAwareHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)


class SandboxHTTPServer(socketserver.ThreadingMixIn, WSGIServer):
    """A threaded wsgiref server; request threads do not keep the process alive."""

    daemon_threads = True
    verbose = False


def make_server(
    app: SandboxApp, host: str = "127.0.0.1", port: int = 8100, *, verbose: bool = False
) -> SandboxHTTPServer:
    """A server for `app` bound to a loopback address (the sandbox is never exposed beyond the machine)."""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"the sandbox serves on loopback only ({', '.join(LOOPBACK_HOSTS)}), not {host!r}")
    server_class = SandboxHTTPServer
    if host == "::1":
        server_class = type("SandboxHTTPServer6", (SandboxHTTPServer,), {"address_family": socket.AF_INET6})
    server = server_class((host, port), _RequestHandler)
    server.verbose = verbose
    server.set_app(app)
    return server


def base_url(server: SandboxHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"


def banner(world: World, url: str) -> list[str]:
    """What `sandbox serve` prints: each system's base URL and the credentials it accepts."""
    with world.lock:
        scenario, seed, now = world.scenario, world.seed, world.now
        credentials = dataclasses.asdict(world.credentials)
    lines = [f"Sandbox retailer: scenario {scenario}, seed {seed}, simulated time {now.isoformat()}"]
    lines.append(f"  status page  {url}/   ground truth {url}/truth.json")
    for system, endpoint in SYSTEM_ENDPOINTS.items():
        lines.append(f"  {system:<9}    {url}/{system}   (e.g. {url}/{system}{endpoint})")
    lines.append("  credentials:")
    lines.extend(f"    {name} = {value}" for name, value in credentials.items())
    return lines


@contextmanager
def _sigterm_stops(server: SandboxHTTPServer) -> Iterator[None]:
    """SIGTERM shuts the server down like Ctrl-C (shutdown() must run off the serving thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(server: SandboxHTTPServer, *, pacer: Pacer | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM, pacing the simulation meanwhile if a pacer is given."""
    if pacer is not None:
        pacer.start()
    try:
        with _sigterm_stops(server):
            server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass
    finally:
        if pacer is not None:
            pacer.stop()
        server.server_close()


def export_truth(scenario: str, seed: int | None, days: float) -> str:
    """Run a scenario for `days` simulated days and return its ground truth as stable JSON."""
    from inventory_hub.sandbox.export import truth_export

    simulation = build_simulation(scenario, seed)
    advance_days(simulation, days)
    with simulation.world.lock:
        return dumps_truth(truth_export(simulation.world))
