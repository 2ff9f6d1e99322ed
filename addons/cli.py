"""The `dejunk` command: mitmproxy's tools with the dejunk addon loaded.

    dejunk [mitmdump options]            the proxy, in the terminal (mitmdump)
    dejunk web [mitmweb options]         the proxy with mitmproxy's web interface (mitmweb)
    dejunk console [mitmproxy options]   the proxy in mitmproxy's console
    dejunk serve [--workers N] [--listen HOST:PORT] [mitmdump options]
                                         N proxies behind HAProxy, as one (addons/serve.py)

Every argument after the (optional) tool name goes to that tool unchanged, e.g.
`dejunk --set dejunk_lists=builtin --set dejunk_lists=~/easylist.txt`. Unlike plain mitmproxy,
the proxy listens on 127.0.0.1 only, unless the arguments or mitmproxy's config file choose the
address (`--listen-host 0.0.0.0` serves other machines too).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# The addon lies beside this file, in the source tree (addons/) and installed (dejunk_addons/).
ADDON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dejunk.py")
DEFAULT_TOOL = "mitmdump"
TOOLS = {"web": "mitmweb", "console": "mitmproxy"}
LOCAL_HOST = "127.0.0.1"
USAGE = """\
usage: dejunk [mitmdump options]            the proxy, in the terminal
       dejunk web [mitmweb options]         with mitmproxy's web interface
       dejunk console [mitmproxy options]   in mitmproxy's console
       dejunk serve [--workers N] [--listen HOST:PORT] [mitmdump options]
                                            N proxies (default: one per core) behind HAProxy
       dejunk --version

The proxy listens on 127.0.0.1 only unless you choose the address: --listen-host 0.0.0.0
(or --set listen_host=...) lets other machines use it. dejunk's options (dejunk_lists,
dejunk_config, ...) are set with --set name=value; the README lists them.
"""


def split_command(argv: Sequence[str]) -> tuple[str, list[str]]:
    """The mitmproxy tool to run and the arguments meant for it."""
    if argv and argv[0] in TOOLS:
        return TOOLS[argv[0]], list(argv[1:])
    return DEFAULT_TOOL, list(argv)


def _set_values(args: Sequence[str], name: str) -> list[str]:
    """The values given to option `name` with `--set name=value` or `--set=name=value`."""
    values = []
    for i, arg in enumerate(args):
        if arg == "--set" and i + 1 < len(args):
            spec = args[i + 1]
        elif arg.startswith("--set="):
            spec = arg[len("--set="):]
        else:
            continue
        key, _, value = spec.partition("=")
        if key == name:
            values.append(value)
    return values


def arguments_choose_listen_host(args: Sequence[str]) -> bool:
    """Whether the command line sets the listening address itself."""
    for arg in args:
        flag = arg.partition("=")[0]
        # argparse also takes an unambiguous abbreviation, e.g. --listen-h.
        if len(flag) >= len("--listen-h") and "--listen-host".startswith(flag):
            return True
    return bool(_set_values(args, "listen_host"))


def config_chooses_listen_host(args: Sequence[str]) -> bool:
    """Whether mitmproxy's config file (in the confdir the arguments name) sets `listen_host`."""
    from mitmproxy import exceptions, optmanager
    from mitmproxy.options import CONF_DIR

    confdirs = _set_values(args, "confdir")
    confdir = os.path.expanduser(confdirs[-1] if confdirs else CONF_DIR)
    for name in ("config.yaml", "config.yml"):
        try:
            with open(os.path.join(confdir, name), encoding="utf-8") as f:
                data = optmanager.parse(f.read())
        except (OSError, UnicodeDecodeError, exceptions.OptionsError):
            # A broken file is mitmproxy's to report when it starts; here it chooses nothing.
            continue
        if isinstance(data, dict) and "listen_host" in data:
            return True
    return False


def tool_arguments(args: Sequence[str]) -> tuple[list[str], bool]:
    """The tool's full argument list, and whether dejunk chose 127.0.0.1 for it."""
    full = ["-s", ADDON]
    local_only = not arguments_choose_listen_host(args) and not config_chooses_listen_host(args)
    if local_only:
        full += ["--listen-host", LOCAL_HOST]
    return full + list(args), local_only


def version_text() -> str:
    """dejunk's version, its network hot path (compiled or not), then mitmproxy's own report (its version,
    Python, OpenSSL, platform)."""
    from importlib import metadata

    from mitmproxy.utils import debug

    try:
        version = metadata.version("dejunk")
    except metadata.PackageNotFoundError:
        version = "(not installed; run from the source tree)"
    # The folder holding `filters` as the addon finds it: site-packages, or the checkout it runs from.
    root = os.path.dirname(os.path.dirname(ADDON))
    if root not in sys.path:
        sys.path.insert(0, root)
    from filters.network.speed import HOT_PATH

    return f"dejunk {version}\naddon: {ADDON}\nnetwork hot path: {HOT_PATH}\n{debug.dump_system_info()}"


def run_tool(tool: str, args: list[str]) -> None:
    """Run a mitmproxy tool in this process (so it uses this Python and its packages)."""
    from mitmproxy.tools import main as tools

    getattr(tools, tool)(args)


def serve_module():
    """addons/serve.py, imported as this package's module, or beside this file when run as a script."""
    try:
        from . import serve
    except ImportError:
        import serve
    return serve


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE)
        print(f"Options of {DEFAULT_TOOL} follow ('dejunk web --help' and 'dejunk console --help' show theirs).\n")
    if argv[:1] == ["--version"]:
        print(version_text())
        return 0
    if argv[:1] == ["serve"]:
        return serve_module().main(argv[1:])
    tool, args = split_command(argv)
    full, local_only = tool_arguments(args)
    if local_only and not ({"-h", "--help", "--options", "--commands"} & set(args)):
        print(f"dejunk: listening on {LOCAL_HOST} only, for this machine's programs; "
              "--listen-host 0.0.0.0 would let other machines use the proxy", file=sys.stderr, flush=True)
    run_tool(tool, full)
    return 0


if __name__ == "__main__":
    sys.exit(main())
