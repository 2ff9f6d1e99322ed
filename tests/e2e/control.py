"""Test-only mitmproxy addon: a request to http://dejunk-control.test/NAME runs the command dejunk.NAME.

Arguments go in the query, `&`-separated and percent-encoded: /allow?site.test runs `dejunk.allow site.test`.

mitmdump has no command prompt; end-to-end tests and `bench.py hostile` reload dejunk through this.
The answer is the command's text. Only that host is answered; everything else passes.
"""

from urllib.parse import unquote

from mitmproxy import ctx, http

HOST = "dejunk-control.test"


class Control:
    def request(self, f: http.HTTPFlow) -> None:
        if f.request.pretty_host != HOST:
            return
        try:
            name, _, query = f.request.path.partition("?")
            args = [unquote(arg) for arg in query.split("&") if arg]
            said = str(ctx.master.commands.call("dejunk." + name.strip("/"), *args))
            status = 200
        except Exception as e:  # the test sees why
            said, status = f"{type(e).__name__}: {e}", 500
        f.response = http.Response.make(status, said.encode(), {"Content-Type": "text/plain"})


addons = [Control()]
