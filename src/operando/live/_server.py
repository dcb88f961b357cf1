"""The live page: the report, served locally, that updates itself as measurements land.

A real web server (Starlette on uvicorn, bound to 127.0.0.1 unless told otherwise) serves
``/`` (the report with a small script added), ``/report.html`` (the static report the
watch rewrites atomically), ``/status`` (JSON) and ``/events`` (server-sent events). When
the watch adds a measurement, every open page receives an ``update`` event, fetches the new
report and swaps it in without reloading, selects the newest measurement of every series
and shows the watch's state and errors in a banner.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from operando.errors import ParameterError

__all__ = ["LiveServer", "LiveStatus", "parse_bind"]

_LIVE_JS = """
<script id="operando-live">
(function(){
  function banner(info){
    var b = document.getElementById('operando-live-banner');
    if (!b){
      b = document.createElement('div');
      b.id = 'operando-live-banner';
      b.setAttribute('role', 'status');
      b.style.cssText = 'position:sticky;top:0;z-index:10;background:#eef4fb;border-bottom:1px solid #9bb7d4;' +
        'padding:4px 12px;font:13px system-ui,sans-serif';
      document.body.insertBefore(b, document.body.firstChild);
    }
    var n = info.measurements, errs = info.errors || {};
    var text = 'live: ' + n + ' measurement' + (n === 1 ? '' : 's') + ' processed';
    if (info.latest) text += '; newest ' + info.latest;
    b.textContent = text;
    Object.keys(errs).forEach(function(k){
      var e = document.createElement('div');
      e.className = 'live-error';
      e.style.color = '#a61b1b';
      e.textContent = k.split('/').pop() + ': ' + errs[k];
      b.appendChild(e);
    });
  }
  function newest(){
    document.querySelectorAll('section[data-frames]').forEach(function(s){
      var n = Number(s.dataset.frames);
      if (n > 0 && window.operandoSelect) window.operandoSelect(s.id, n - 1);
    });
  }
  function swap(info){
    fetch('/report.html?v=' + info.version, {cache: 'no-store'}).then(function(r){
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function(text){
      var doc = new DOMParser().parseFromString(text, 'text/html');
      var y = window.scrollY;
      document.body.innerHTML = doc.body.innerHTML;
      // scripts put in by innerHTML do not run: run the report's own again
      doc.body.querySelectorAll('script').forEach(function(s){
        var n = document.createElement('script');
        n.textContent = s.textContent;
        document.body.appendChild(n);
      });
      newest();
      banner(info);
      window.scrollTo(0, y);
      window.operandoLiveVersion = info.version;
    }).catch(function(){ banner(info); });
  }
  window.operandoLiveVersion = -1;
  var source = new EventSource('/events');
  source.addEventListener('update', function(ev){
    var info = JSON.parse(ev.data);
    if (info.version !== window.operandoLiveVersion) swap(info); else banner(info);
  });
  newest();
})();
</script>
"""

_WAITING = """<!doctype html><html><head><meta charset="utf-8"><title>operando watch</title></head>
<body><h1>operando watch</h1><p>No measurement is finished yet; this page fills in as they land.</p>
</body></html>"""


def parse_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``PORT``) of the live server.

    Examples
    --------
    >>> parse_bind("127.0.0.1:8765"), parse_bind("8000")
    (('127.0.0.1', 8765), ('127.0.0.1', 8000))
    """
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ParameterError(f"--serve wants HOST:PORT (e.g. 127.0.0.1:8765), got {text!r}") from None
    if not 0 <= number <= 65535:
        raise ParameterError(f"--serve: port {number} is outside 0-65535")
    return host or "127.0.0.1", number


@dataclass
class LiveStatus:
    """What the page shows of the watch: bumped by the watch thread, read by the server."""

    version: int = 0
    measurements: int = 0
    latest: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> str:
        return json.dumps(
            {"version": self.version, "measurements": self.measurements, "latest": self.latest, "errors": self.errors}
        )


class LiveServer:
    """Serve the results folder's report with live updates, in a background thread.

    Parameters
    ----------
    results : pathlib.Path
        The watch's results folder (``report.html`` is read from it on each request).
    status : LiveStatus
        Shared with the watch.
    host, port : str, int
        Where to listen (port 0: any free port; :attr:`port` says which).
    """

    def __init__(self, results: Path, status: LiveStatus, *, host: str = "127.0.0.1", port: int = 8765) -> None:
        from starlette.applications import Starlette
        from starlette.responses import HTMLResponse, Response, StreamingResponse
        from starlette.routing import Route

        self.results = Path(results)
        self.status = status
        self._closing = False

        def report_text() -> str | None:
            try:
                return (self.results / "report.html").read_text(encoding="utf-8")
            except FileNotFoundError:
                return None

        async def index(request: Any) -> Response:
            text = report_text() or _WAITING
            i = text.rfind("</body>")
            page = text[:i] + _LIVE_JS + text[i:] if i >= 0 else text + _LIVE_JS
            return HTMLResponse(page, headers={"Cache-Control": "no-store"})

        async def report(request: Any) -> Response:
            text = report_text()
            if text is None:
                return HTMLResponse(_WAITING, status_code=404)
            return HTMLResponse(text, headers={"Cache-Control": "no-store"})

        async def status_route(request: Any) -> Response:
            return Response(self.status.as_json(), media_type="application/json")

        async def events(request: Any) -> Response:
            async def stream() -> AsyncIterator[str]:
                sent = None
                quiet = 0.0
                while not self._closing:
                    now = self.status.as_json()
                    if now != sent:
                        sent = now
                        quiet = 0.0
                        yield f"event: update\ndata: {now}\n\n"
                    elif quiet > 15.0:
                        quiet = 0.0
                        yield ": keep-alive\n\n"
                    if await request.is_disconnected():
                        return
                    await asyncio.sleep(0.25)
                    quiet += 0.25

            return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

        self.app = Starlette(
            routes=[
                Route("/", index),
                Route("/report.html", report),
                Route("/status", status_route),
                Route("/events", events),
            ]
        )
        import uvicorn

        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)
        )
        self._thread = threading.Thread(target=self._server.run, name="operando-live-server", daemon=True)

    @property
    def port(self) -> int:
        servers = getattr(self._server, "servers", [])
        for s in servers:
            for sock in s.sockets:
                return int(sock.getsockname()[1])
        return int(self._server.config.port)

    @property
    def url(self) -> str:
        return f"http://{self._server.config.host}:{self.port}/"

    def start(self, timeout_s: float = 10.0) -> None:
        """Start serving; returns once the socket is listening."""
        self._thread.start()
        t0 = time.monotonic()
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() - t0 > timeout_s:
                raise ParameterError(
                    f"the live server could not listen on {self._server.config.host}:{self._server.config.port}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop serving (open event streams end)."""
        self._closing = True
        self._server.should_exit = True
        self._thread.join(timeout=10)
