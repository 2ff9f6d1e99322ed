"""An addon whose per-flow hooks do nothing: `scripts/bench.py proxy` measures what mitmproxy's hook
dispatch alone costs a script addon (the floor under any addon's overhead), beside bare mitmdump."""


class EmptyHooks:
    """The hooks dejunk implements for every flow, empty."""

    def requestheaders(self, flow):
        pass

    def request(self, flow):
        pass

    def responseheaders(self, flow):
        pass

    def response(self, flow):
        pass

    def error(self, flow):
        pass


addons = [EmptyHooks()]
