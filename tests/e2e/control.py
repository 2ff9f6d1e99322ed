"""Test-only mitmproxy addon: a request to http://dejunk-control.test/NAME runs the command dejunk.NAME.

mitmdump has no command prompt; end-to-end tests and `bench.py hostile` reload dejunk through this.
The answer is the command's text. Only that host is answered; everything else passes.
"""

from mitmproxy import ctx, http

HOST = "dejunk-control.test"


class Control:
    def request(self, f: http.HTTPFlow) -> None:
        if f.request.pretty_host != HOST:
            return
        try:
            said = str(ctx.master.commands.call("dejunk." + f.request.path.strip("/")))
            status = 200
        except Exception as e:  # the test sees why
            said, status = f"{type(e).__name__}: {e}", 500
        f.response = http.Response.make(status, said.encode(), {"Content-Type": "text/plain"})


addons = [Control()]
