"""Filter list text: reading and classifying lines, subscriptions and their cache, the built-in list."""
