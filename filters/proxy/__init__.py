"""Everything that knows mitmproxy: flows to requests, policies, timeouts, pages, workers, self-check."""
