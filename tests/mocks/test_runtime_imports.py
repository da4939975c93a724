"""The mocks' runtime imports uvicorn only when a listener is served by it: the spec runs' HTTP mocks are served by
the lean server, and uvicorn (with click, watchfiles and multiprocessing behind it) was ≈ 100 M instructions of each
run's pytest process's start. Each side runs in a fresh interpreter, over real sockets."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import http.client, sys
from mocks.transport.runtime import Runtime

async def app(scope, receive, send):
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})

def ask(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/", body=b"{}")
    reply = connection.getresponse()
    return f"{reply.status}:{reply.read().decode()}"

runtime = Runtime().start()
try:
    lean = ask(runtime.serve_http(app, lean=True).port)
    print(lean, "uvicorn" in sys.modules, "click" in sys.modules)
    served = ask(runtime.serve_http(app).port)
    print(served, "uvicorn" in sys.modules)
finally:
    runtime.stop()
"""


def test_uvicorn_is_imported_by_the_first_listener_it_serves() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["200:ok False False", "200:ok True"]
