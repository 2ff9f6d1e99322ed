"""Scriptlets: small page scripts named by `##+js(...)` rules, their catalog and the one script a page gets."""
