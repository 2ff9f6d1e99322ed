"""Test-only mitmproxy addon: makes dejunk's engine raise for URLs containing "explode"."""

from mitmproxy import ctx


class _ExplodingEngine:
    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def check_request(self, request):
        if "explode" in request.url:
            raise RuntimeError("engine exploded (test fault)")
        return self._real.check_request(request)


class BreakEngine:
    def running(self):
        filtering = ctx.master.addons.get("dejunk").filtering
        filtering.engine = _ExplodingEngine(filtering.engine)


addons = [BreakEngine()]
