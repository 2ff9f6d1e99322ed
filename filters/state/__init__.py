"""dejunk's state across restarts: `store.StateStore` (sites, overrides, subscriptions, settings, statistics) on a backend (`sqlite`)."""
