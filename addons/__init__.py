"""dejunk's mitmproxy addon (`dejunk.py`) and the `dejunk` command (`cli.py`); installed as `dejunk_addons`."""
