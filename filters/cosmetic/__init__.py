"""Cosmetic rules: element hiding and procedural selectors, indexed by host, class and id."""
