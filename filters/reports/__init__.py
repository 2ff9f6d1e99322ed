"""Events, statistics, recordings and replay reports."""
