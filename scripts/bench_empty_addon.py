"""An addon whose per-flow hooks do nothing: `scripts/bench.py proxy` measures what mitmproxy's hook
dispatch alone costs a script addon (the floor under any addon's overhead), beside bare mitmdump.

Its module gets the hook names it lacks as dejunk's does (`skip_module_hook_lookups`), so the floor is
that of an addon shaped like dejunk."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from filters.proxy.internals import skip_module_hook_lookups  # noqa: E402


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
skip_module_hook_lookups(globals())
