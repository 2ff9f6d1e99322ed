"""dejunk: an ad-removing proxy as a mitmproxy addon.

    mitmdump -s addons/dejunk.py        (or the `dejunk` command: addons/cli.py)

Glue only: declares dejunk's options, turns them into the state of `filters.proxy` (settings,
policies, lists and engine), hands every flow to `Filtering` at each hook, and runs the commands.
What happens to a flow is in filters/proxy/filtering.py; ARCHITECTURE.md maps the rest.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import sys
import threading
import time
from collections.abc import Sequence

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)
# mitmproxy's hot reload re-runs this file but would keep the old `filters` modules: drop them
# when an earlier run of this file imported them (others importing `filters` keep theirs).
if getattr(sys.modules.get("filters"), "_loaded_by_dejunk_addon", False):
    for _name in [n for n in sys.modules if n == "filters" or n.startswith("filters.")]:
        del sys.modules[_name]

from mitmproxy import command, ctx, exceptions, flow, http  # noqa: E402
from mitmproxy.utils import human  # noqa: E402

import filters  # noqa: E402
from filters.proxy import selfcheck  # noqa: E402
from filters.dashboard.api import Api, Sources  # noqa: E402
from filters.dashboard.hooks import DashboardHooks, LastWordOnTls, is_dashboard_flow  # noqa: E402
from filters.dashboard.server import Dashboard  # noqa: E402
from filters.lists.listset import myfilters_path, state_dir_for  # noqa: E402
from filters.proxy.engines import Engines  # noqa: E402
from filters.proxy.filtering import Filtering, ProxySettings, times  # noqa: E402
from filters.proxy.flows import request_from_flow, request_views  # noqa: E402
from filters.proxy.internals import (  # noqa: E402
    install_body_size_check,
    install_error_pages,
    install_stream_failures,
    problems as internal_problems,
    proxy_starting,
    quiet_streaming_notices,
    skip_header_size_check,
    skip_module_hook_lookups,
    take_deferred,
)
from filters.proxy.options import BY_NAME as OPTION_SPECS, OPTIONS, check_value, describe_error, open_listeners  # noqa: E402
from filters.proxy.upstream import UpstreamWatch  # noqa: E402
from filters.proxy.policy import ConfigError, Policies, host_matches, load_policies  # noqa: E402
from filters.proxy.events import EventLog  # noqa: E402
from filters.state.postgres import PostgresUnavailable, is_postgres  # noqa: E402
from filters.state.store import StateStore  # noqa: E402
from filters.printable import printable, printable_logger  # noqa: E402
from filters.reports import culprit  # noqa: E402
from filters.reports.bisection import Bisection, NoEngine, NotRunning  # noqa: E402
from filters.reports.recordings import record_from_flow  # noqa: E402
from filters.proxy.explain import request_to_explain  # noqa: E402

filters._loaded_by_dejunk_addon = True
logger = printable_logger("dejunk")


class StateWatch:
    """A thread calling `look()` about once a second: following the state other proxies share (`Dejunk._look_at_state`)."""

    def __init__(self, look, interval: float = 1.0):
        self.look = look
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dejunk state watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.look()
            except Exception as e:  # a store that fails now may work at the next look; said at debug level only:
                logger.debug(f"dejunk: looking at the state store failed: {e}")  # the proxy's own reads say it

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


# Proxies serving one dashboard behind a load balancer (dejunk serve) share its token: the page one
# of them served must work with whichever gets the next request. Else each start makes its own.
DASHBOARD_TOKEN_VARIABLE = "DEJUNK_DASHBOARD_TOKEN"
# The setting by which a proxy that does not fetch lists asks the one that does (dejunk serve: worker 1) to update them.
UPDATE_ASKED = "lists_update_asked"
_UNSEEN = object()


class Dejunk:
    """Blocks ad and tracker requests, applies host policies, explains upstream failures."""

    def __init__(self):
        self.upstream = UpstreamWatch(lambda: ctx.master)
        self.engines = Engines(on_engine=self._engine_ready, on_update=lambda: self.filtering.stats.add("list_updates"))
        self.filtering = Filtering(self.upstream, rewrite_pool=self.engines.rewrite_pool)
        self.store: StateStore | None = None  # opened from dejunk_state (filters.state)
        self.state_watch = StateWatch(self._look_at_state)
        self._subscriptions_loaded: list[str] | None = None  # the store's subscriptions the engine was built with
        # The store's version and its UPDATE_ASKED setting, as last looked at.
        self._state_seen: tuple[int | None, object] = (None, _UNSEEN)
        self.engines.ask_for_update = self._ask_for_update
        # A configuration is in force: a later bad option is refused and this one kept.
        self._configured = False
        self._option_errors: list[str] = []  # bad option values found when the script was loaded
        self.self_check = "not run"
        # dejunk.bisect.start and the dashboard: a site being bisected live.
        self.bisection = Bisection(self.filtering, lambda: self.engines.engine)
        self.bisect_job: threading.Thread | None = None  # dejunk.bisect over flows, running
        self.bisect_said: str | None = None  # what the last dejunk.bisect over flows found
        self._dashboard_tls = None  # see LastWordOnTls, put in place when the proxy runs
        self.dashboard = DashboardHooks(Dashboard(Api(Sources(
            filtering=self.filtering, engines=self.engines, store=lambda: self.store,
            configured_allow=lambda: list(ctx.options.dejunk_allow), sites_changed=self.filtering.apply_state,
            list_arguments=self._list_arguments, myfilters=self._myfilters, bisection=self.bisection,
        )), token=os.environ.get(DASHBOARD_TOKEN_VARIABLE) or None))

    @property
    def bisecting(self) -> culprit.LiveBisect | None:
        return self.bisection.live

    def _engine_ready(self, engine) -> None:
        if self.bisection.engine_changed():  # its rule ids belong to the engine it started with
            logger.warning(f"dejunk: {self.bisection.message}")
        self.filtering.engine = engine

    # --- options -------------------------------------------------------------------------------

    def load(self, loader):
        for spec in OPTIONS:
            loader.add_option(spec.name, spec.typespec, spec.default, spec.help, choices=spec.choices)
        self._option_errors = self._take_early_options(loader.master.options)

    @staticmethod
    def _take_early_options(options) -> list[str]:
        """Set dejunk's options given before the script declared them; one error line per bad value.

        mitmproxy would set these itself once the options exist, but a value that does not parse
        then is dropped with nothing said, and dejunk would run on its defaults.
        """
        errors = []
        for name, (value, from_strings) in take_deferred(options, "dejunk_").items():
            try:
                if from_strings:  # --set name=value, repeatable for list options
                    options.set(*([f"{name}={v}" for v in value] or [name]))
                else:  # config.yaml, already parsed
                    options.update(**{name: value})
            except (exceptions.OptionsError, TypeError, ValueError):  # mitmproxy's type check raises TypeError
                one = from_strings and len(value) == 1 and OPTION_SPECS[name].typespec in (int, bool, str)
                errors.append(describe_error(name, value[0] if one else value))
        for name in [n for n in options.deferred if n.startswith("dejunk")]:
            close = difflib.get_close_matches(name, OPTION_SPECS, n=1)
            errors.append(f"{name}: no such option" + (f" (did you mean {close[0]}?)" if close else ""))
        return errors  # logged by the first configure, which makes dejunk refuse to filter

    def configure(self, updated: set[str]):
        if not self._configured:
            # Nothing good is in force yet (first start, or after a failure): apply every option.
            updated = updated | OPTION_SPECS.keys()
        try:
            if self._option_errors:
                errors, self._option_errors = self._option_errors, []
                raise exceptions.OptionsError("\n".join(errors))
            self._apply(updated)
        except exceptions.OptionsError as e:
            if self._configured:
                raise  # mitmproxy puts the previous value back, and that configuration stays in force
            self._cannot_filter(str(e).splitlines())
            return
        if not self._configured:
            self._check_hooks()
        if self.engines.running and updated & {"connection_strategy", "dejunk_dashboard"}:
            self._place_dashboard_tls()

    def _apply(self, updated: set[str]) -> None:
        opts, filtering = ctx.options, self.filtering
        for name in sorted(updated & OPTION_SPECS.keys()):
            problem = check_value(name, getattr(opts, name))
            if problem:
                raise exceptions.OptionsError(problem)
        if updated & {"dejunk_dashboard", "dejunk_dashboard_password"}:
            # Before anything else can fail: the dashboard shows why dejunk does not filter.
            self.dashboard.configure(opts.dejunk_dashboard, opts.dejunk_dashboard_password)
        # A body mitmproxy would stream (`stream_large_bodies`, if smaller) is not held either.
        hold_limit = opts.dejunk_max_rewrite_bytes
        try:
            stream_above = human.parse_size(opts.stream_large_bodies) if "stream_large_bodies" in opts else None
        except ValueError:
            stream_above = None  # mitmproxy reports its own option's error
        if stream_above is not None:
            hold_limit = min(hold_limit, stream_above)
        # A body without a length held past it is streamed on by dejunk (a page with its scriptlets still).
        self.upstream.hold_limit = hold_limit
        # Where flows are kept to be looked at, their bodies are kept as mitmproxy would keep them.
        filtering.keep_bodies = ctx.master.addons.get("view") is not None or any(
            name in opts and getattr(opts, name) for name in ("save_stream_file", "hardump")
        )
        # dejunk's responseheaders hook decides streaming for every response while it streams what
        # it need not read, so mitmproxy's own check on the headers is skipped then (see
        # filters.proxy.internals); a body_size_limit needs that check, so it keeps it.
        skip_header_size_check(
            opts.dejunk_enabled and not filtering.keep_bodies and not ("body_size_limit" in opts and opts.body_size_limit)
        )
        self.upstream.connect_timeout = opts.dejunk_connect_timeout
        self.upstream.response_timeout = opts.dejunk_response_timeout
        # Hooks read this snapshot: an option read through ctx.options costs microseconds each.
        filtering.settings = ProxySettings(
            enabled=opts.dejunk_enabled,
            cosmetic=opts.dejunk_cosmetic,
            max_rewrite_bytes=opts.dejunk_max_rewrite_bytes,
            hold_limit=hold_limit,
            rewrite_timeout=opts.dejunk_rewrite_timeout,
            connect_timeout=opts.dejunk_connect_timeout,
            response_timeout=opts.dejunk_response_timeout,
            error_pages=opts.dejunk_error_pages,
            eager_connect="connection_strategy" in opts and opts.connection_strategy == "eager",
        )
        if updated & {"dejunk_state", "dejunk_worker"}:
            self._open_store(state_dir_for(opts.dejunk_state), opts.dejunk_worker)
        if "dejunk_allow" in updated:
            filtering.configured_allow = [p.strip().lower() for p in opts.dejunk_allow]
        if "dejunk_config" in updated:
            filtering.configured_policies = self._load_policies(opts.dejunk_config)
        if updated & {"dejunk_allow", "dejunk_config", "dejunk_state"}:
            filtering.apply_state()  # the store's sites and overrides over the configured ones
        self.engines.workers_wanted = opts.dejunk_cosmetic != "off"
        self.engines.fetch = opts.dejunk_fetch_lists
        if updated & {"dejunk_lists", "dejunk_config", "dejunk_cache", "dejunk_trusted_lists", "dejunk_myfilters",
                      "dejunk_state", "dejunk_fetch_lists"}:
            self._load_lists()
        elif self.engines.running:
            self.engines.start_workers()
        if "dejunk_events" in updated:
            self._open_events(opts.dejunk_events)
        if "dejunk_error_pages" in updated and opts.dejunk_error_pages:
            install_error_pages()

    def _load_lists(self) -> None:
        self.engines.load(*self._list_arguments())

    def _list_arguments(self) -> tuple:
        """`Engines.load`'s arguments: the lists of the options, then those added in the dashboard (the store's)."""
        opts = ctx.options
        specs = list(opts.dejunk_lists)
        if self.store is not None:
            self._subscriptions_loaded = self.store.subscriptions()
            specs += [url for url in self._subscriptions_loaded if url not in specs]
        return specs, opts.dejunk_config, opts.dejunk_cache, list(opts.dejunk_trusted_lists), self._myfilters()

    @staticmethod
    def _myfilters() -> str | None:
        # A state kept in PostgreSQL leaves the files of this machine (my filters) in the local default folder.
        state = ctx.options.dejunk_state
        return myfilters_path(ctx.options.dejunk_myfilters, state_dir_for(None if is_postgres(state or "") else state))

    @staticmethod
    def _load_policies(path: str | None) -> Policies:
        if not path:
            return Policies()
        try:
            return load_policies(path)
        except ConfigError as e:
            raise exceptions.OptionsError(f"dejunk_config: {e}") from None

    def _open_store(self, folder: str, worker: str) -> None:
        """Open the state store in `folder` (a damaged or unwritable one is said and replaced), as `worker`.

        A PostgreSQL store that cannot be reached is an option error: proxies sharing a state must not
        each go on with one of their own.
        """
        self.state_watch.stop()
        if self.store is not None:
            self.store.close()
            self.store = self.filtering.store = None
        try:
            self.store = self.filtering.store = StateStore.open(folder, worker=worker)
        except PostgresUnavailable as e:
            raise exceptions.OptionsError(f"dejunk_state: {e}") from None
        # On a server, looking at the store's version is a round trip: the watch thread does it, not the event loop.
        self.filtering.__dict__.pop("STATE_CHECK_SECONDS", None)
        if self.store.backend.name != "sqlite":
            self.filtering.STATE_CHECK_SECONDS = math.inf
        self._state_seen = (None, _UNSEEN)
        self.state_watch = StateWatch(self._look_at_state)
        self.state_watch.start()

    def _look_at_state(self) -> None:
        """In the watch thread, once a second: what other proxies sharing the store changed.

        Sites and overrides (on a server; with SQLite requests look at them, cheaply), the lists
        subscribed in the dashboard (loaded again when they differ from those in use), and a list
        update asked for by a proxy that does not fetch lists (done here, if this one does).
        """
        store = self.store
        if store is None:
            return
        if store.backend.name != "sqlite":
            self.filtering._check_state()
        version, asked = store.version(), store.get(UPDATE_ASKED)
        (seen_version, seen_asked), self._state_seen = self._state_seen, (version, asked)
        # The first look compares too: another proxy may have subscribed between the load and now.
        if version != seen_version and self._subscriptions_loaded is not None \
                and store.subscriptions() != self._subscriptions_loaded:
            logger.info("dejunk: the lists subscribed in the dashboard changed (in a proxy sharing the state); "
                        "loading them")
            self.engines.load(*self._list_arguments(), follow=not self.engines.fetch)
        if seen_version is None:
            return  # an update asked for before this proxy looked was asked of the one in force then
        if asked != seen_asked and self.engines.fetch and self.engines.refresher is not None:
            logger.info("dejunk: a proxy sharing the state asked for a list update")
            self.engines.refresher.kick(force=True)

    def _ask_for_update(self) -> bool:
        """A proxy that does not fetch lists asks the one that does (through the store); whether it could."""
        if self.store is None:
            return False
        self.store.put(UPDATE_ASKED, f"{time.time():.6f} {ctx.options.dejunk_worker}")
        return True

    def _open_events(self, path: str | None) -> None:
        self.filtering.events.close()
        try:
            self.filtering.events = EventLog(path)
        except OSError as e:
            self.filtering.events = EventLog(None)
            raise exceptions.OptionsError(f"dejunk_events: cannot open {path}: {e.strerror}") from None

    # --- whether dejunk can filter ---------------------------------------------------------------

    def _check_hooks(self) -> None:
        """Run the self-check (see filters.proxy.selfcheck); dejunk filters only if it passes."""
        started = time.perf_counter()
        problems = selfcheck.run(self.filtering.settings)
        if problems:
            self.self_check = f"failed on {selfcheck.versions()}: {'; '.join(problems)}"
            self._cannot_filter([f"self-check failed on {selfcheck.versions()}: {p}" for p in problems])
            return
        self.self_check = f"passed in {(time.perf_counter() - started) * 1000:.0f} ms on {selfcheck.versions()}"
        was_failed, self.filtering.failed, self._configured = self.filtering.failed, None, True
        if was_failed is not None:
            logger.info("dejunk: the problem is fixed; filtering again")

    def _cannot_filter(self, lines: list[str]) -> None:
        """dejunk cannot filter: say why, and refuse traffic until it can (a start stops on it)."""
        self.filtering.failed = "; ".join(lines)
        # Refusing is dejunk's doing: with dejunk_enabled false, traffic passes without it meanwhile.
        enabled = ctx.options.dejunk_enabled if "dejunk_enabled" in ctx.options else True
        self.filtering.settings = dataclasses.replace(self.filtering.settings, enabled=enabled)
        self._configured = False
        for line in lines:
            logger.error(f"dejunk: {line}")
        if not proxy_starting(ctx.master):
            logger.error("dejunk: not filtering: every request now gets a 503 page saying why, until this is fixed")
            return
        # mitmproxy stops a start on an error logged while it starts, but only once its listeners
        # are open (scripts load meanwhile), saying it is listening first. So the start ends here,
        # as mitmproxy's own error check ends it. The console shows no log until it runs: there
        # the lines go to stderr too.
        if ctx.master.addons.get("termlog") is None:
            print("\n".join(f"dejunk: {line}" for line in lines), file=sys.stderr)
        sys.exit(1)

    # --- lifecycle -----------------------------------------------------------------------------

    def running(self):
        quiet_streaming_notices()
        install_body_size_check()
        install_stream_failures()
        self.upstream.watch_held_bodies(True)
        for name, problem, loss in internal_problems():
            logger.warning(f"dejunk: on {selfcheck.versions()}, a mitmproxy internal changed ({name}: {problem}): {loss}")
        # Start the page workers now, before traffic: starting them takes a few hundred ms.
        self.engines.running = True
        self.engines.start_workers()
        if "stream_large_bodies" in ctx.options and not ctx.options.stream_large_bodies:
            # Pages larger than dejunk rewrites (and bodies without a length that grow past it)
            # switch to streaming instead of filling memory.
            ctx.options.update(stream_large_bodies=str(ctx.options.dejunk_max_rewrite_bytes))
        strategy = getattr(ctx.options, "connection_strategy", None) if "connection_strategy" in ctx.options else None
        if ctx.options.dejunk_error_pages and strategy not in (None, "lazy"):
            # Eager connects fail during CONNECT, where browsers show their own error; lazy
            # connects fail inside the tunnel, where dejunk's page can be shown.
            ctx.options.update(connection_strategy="lazy")
        for mode in open_listeners(ctx.options):
            logger.warning(
                f"dejunk: the proxy ({mode}) listens on every network interface: anyone who can reach this "
                "machine can use it. To serve this machine only, start it with --listen-host 127.0.0.1"
            )
        self._place_dashboard_tls()
        if self.dashboard.name:
            logger.info(f"dejunk: dashboard at http://{self.dashboard.name}/ for clients of this proxy"
                        + (" (password set)" if ctx.options.dejunk_dashboard_password else ""))

    def _place_dashboard_tls(self) -> None:
        """`LastWordOnTls` at the end of mitmproxy's addon chain only while it has something to undo.

        mitmproxy's tlsconfig asks a server before TLS with the client only with eager connections;
        and every addon in the chain costs every hook of every flow its dispatch (some 14 us a flow in all).
        """
        addons = ctx.master.addons
        there = addons.get(LastWordOnTls.name)  # ours, or one an earlier load of the script put there
        wanted = bool(self.dashboard.name) and "connection_strategy" in ctx.options \
            and ctx.options.connection_strategy == "eager"
        if wanted and (there is None or there is not self._dashboard_tls):
            self._dashboard_tls = LastWordOnTls.install(addons, self.dashboard)
        elif not wanted and there is not None:
            addons.remove(there)
            self._dashboard_tls = None

    def done(self):
        if self._dashboard_tls is not None and ctx.master.addons.get(LastWordOnTls.name) is self._dashboard_tls:
            ctx.master.addons.remove(self._dashboard_tls)
        skip_header_size_check(False)  # dejunk unloaded: mitmproxy decides on response headers again
        self.engines.close()
        self.upstream.cancel_all()
        self.upstream.watch_held_bodies(False)
        for failure, count in self.filtering.failures.flush():
            logger.error(f"dejunk: error in {failure.where}: {times(count)} not yet reported, {failure.count} in all "
                         f"({failure.error})")
        logger.info(self.filtering.stats.summary())
        self.filtering.events.close()
        self.state_watch.stop()
        if self.store is not None:
            self.store.close()  # writes the statistics counted since the last write
            self.store = self.filtering.store = None

    # --- hooks: each flow goes to `Filtering` -----------------------------------------------------

    # The dashboard's flows (dejunk_dashboard's host name) are answered by it and kept from `Filtering`.

    def requestheaders(self, f: http.HTTPFlow):
        if self.dashboard.wants(f):
            return self.dashboard.requestheaders(f)
        # The decision is made here, before mitmproxy reads (or streams) the body.
        return self.filtering.requestheaders(f)

    def request(self, f: http.HTTPFlow):
        if is_dashboard_flow(f):
            return self.dashboard.request(f)
        return self.filtering.request(f)

    def http_connect(self, f: http.HTTPFlow):
        if self.dashboard.name and self.dashboard.http_connect(f):
            return
        return self.filtering.http_connect(f)

    def responseheaders(self, f: http.HTTPFlow):
        if is_dashboard_flow(f):
            return
        return self.filtering.responseheaders(f)

    def response(self, f: http.HTTPFlow):
        if is_dashboard_flow(f):
            return
        # Synchronous unless a page is to be rewritten: then the coroutine that does it, which
        # mitmproxy awaits.
        rewriting = self.filtering.response(f)
        if self.bisecting is not None and rewriting is not None and self.bisecting.phase == "collecting":
            return self._note_bisected_page(f, rewriting)
        return rewriting

    async def _note_bisected_page(self, f: http.HTTPFlow, rewriting) -> None:
        await rewriting
        data = f.metadata.get("dejunk") or {}
        if self.bisecting is not None:
            self.bisecting.note_page(f.request.pretty_url, data.get("selectors") or (), data.get("rule_places") or ())

    def error(self, f: http.HTTPFlow):
        if is_dashboard_flow(f):
            return
        return self.filtering.error(f)

    def http_connect_error(self, f: http.HTTPFlow):
        if is_dashboard_flow(f):
            return
        return self.filtering.http_connect_error(f)

    # Connection hooks refuse connections to refused hosts and feed the upstream deadlines.

    def server_connect(self, data):
        if self.dashboard.name and self.dashboard.server_connect(data.server):
            return
        self.filtering.server_connect(data.client, data.server)
        if not data.server.error:
            self.upstream.server_connect(data.client, data.server)

    def server_connected(self, data):
        self.upstream.server_connected(data.client, data.server)

    def server_disconnected(self, data):
        self.upstream.server_closed(data.server)

    def server_connect_error(self, data):
        self.upstream.server_closed(data.server)

    def tls_established_server(self, data):
        self.upstream.tls_done(data.conn)

    def tls_failed_server(self, data):
        self.upstream.tls_failed(data.context.client, data.conn)

    # --- commands -------------------------------------------------------------------------------

    @command.command("dejunk.stats")
    def stats_command(self) -> str:
        """Counts by kind and the top hosts of each kind."""
        return printable(self.filtering.stats.summary(), newlines=True)

    @command.command("dejunk.status")
    def status(self) -> str:
        """Whether dejunk is filtering, and why not; versions, self-check, lists, internals, failures."""
        filtering = self.filtering
        if not filtering.settings.enabled:
            state = "disabled (dejunk_enabled is false): every flow passes untouched"
        elif filtering.failed is not None:
            state = f"NOT FILTERING, every request is refused with a 503 page: {filtering.failed}"
        else:
            state = "filtering"
        lines = [f"dejunk: {state}", f"  running on {selfcheck.versions()}", f"  self-check: {self.self_check}"]
        for summary in getattr(filtering.engine, "lists", ()):
            lines.append(f"  list {summary.name}: {summary.rules - summary.host_rules} network, {summary.cosmetic} "
                         f"cosmetic rules, {summary.host_rules} host entries in force")
        refresher = self.engines.refresher
        if refresher is not None and refresher.failing:
            lines.append("  lists that cannot be fetched (retrying): " + "; ".join(
                f"{url}: {error}" for url, error in refresher.failing.items()))
        changed = internal_problems()
        store = self.store
        if store is not None:
            lines.append(f"  state: {store.location}" + (f" ({store.problem})" if store.problem else ""))
        lines.append("  mitmproxy internals: " + ("as expected" if not changed else "; ".join(
            f"{name} changed ({problem}): {loss}" for name, problem, loss in changed)))
        causes = filtering.failures.describe()
        lines.append(f"  failures in dejunk's own code: {'none' if not causes else filtering.failures.total}")
        lines.extend(f"    {line}" for line in causes[:20])
        lines.append("  " + filtering.stats.summary().replace("\n", "\n  "))
        return printable("\n".join(lines), newlines=True)

    @command.command("dejunk.explain")
    def explain(self, target: str, source: str = "", request_type: str = "") -> str:
        """What the proxy would do with a URL or with flows (@focus, @marked, a filter like ~d example.com).

        For a URL: allowed site, connect policy, or the list decision (rule, list and line, and
        any exception), then the image and cookie policies; `source` is the page making the
        request and `request_type` its type (default: inferred as scripts/check.py infers it).
        """
        if target.startswith(("@", "~", "!")):
            return self._explain_flows(target)
        try:
            request, request_type = request_to_explain(target, source, request_type)
        except ValueError as e:
            raise exceptions.CommandError(f"dejunk.explain: {e}") from None
        return printable(f"{target} ({request_type}{', from ' + source if source else ''}): "
                         f"{self.filtering.outcome(request)}")

    def _explain_flows(self, spec: str) -> str:
        try:
            flows = ctx.master.commands.call("view.flows.resolve", spec)
        except exceptions.CommandError as e:
            return f"dejunk: cannot resolve {spec!r}: {e} (flows can be named in mitmproxy and mitmweb)"
        lines = []
        for f in flows:
            if not isinstance(f, http.HTTPFlow):
                continue
            request = request_from_flow(f)
            lines.append(f"{request.url}")
            if f.comment:
                lines.append("  recorded: " + f.comment.replace("\n", "\n            "))
            source = f", from {request.source_url}" if request.source_url and request.type != "document" else ""
            lines.append(f"  now ({request.type}{source}): {self.filtering.outcome(*request_views(f, request))}")
        return printable("\n".join(lines), newlines=True) if lines else f"dejunk: no flows match {spec!r}"

    @command.command("dejunk.reload")
    def reload(self) -> str:
        """Re-read the filter lists and the config file."""
        started = time.perf_counter()
        opts = ctx.options
        self.filtering.configured_policies = self._load_policies(opts.dejunk_config)
        self.filtering.apply_state()
        self._load_lists()
        engine = self.engines.engine
        network = sum(s.rules - s.host_rules for s in engine.lists)
        cosmetic = sum(s.cosmetic for s in engine.lists)
        config = f", policies from {opts.dejunk_config}" if opts.dejunk_config else ""
        return _said(f"dejunk: reloaded {_count(len(engine.lists), 'list')} ({network} network and {cosmetic} "
                     f"cosmetic rules){config} in {time.perf_counter() - started:.2f} s")

    @command.command("dejunk.update")
    def update_lists(self) -> str:
        """Download every subscribed list now (in the background) and switch to it when ready."""
        refresher = self.engines.refresher
        if refresher is None or not refresher.urls:
            return _said("dejunk: no list subscriptions to update")
        refresher.kick(force=True)
        if not self.engines.fetch:  # the kick asked the proxy that fetches (see Engines)
            return _said(f"dejunk: asked the proxy that downloads the lists (dejunk serve: worker 1) to update "
                         f"{_count(len(refresher.urls), 'subscribed list')}; this one takes the new filters when ready")
        return _said(f"dejunk: downloading {_count(len(refresher.urls), 'subscribed list')} in the background; "
                     "the new filters take over when they are ready")

    @command.command("dejunk.allow")
    def allow_site(self, host: str) -> str:
        """Step aside on a site (host wildcard): its pages and their requests pass untouched, also after a restart."""
        host = host.strip().lower()
        if not host:
            raise exceptions.CommandError("dejunk.allow: give a host name or a wildcard such as *.example.com")
        self.filtering.apply_state()  # what the store holds now (another process may have changed it)
        allowed = self.filtering.allow
        covered = host_matches(tuple(allowed), host) if not any(c in host for c in "*?[") else None
        if host in allowed or covered:
            return _said(f"dejunk: {host} is already allowed (by {covered or host}); nothing changed")
        try:
            self._state().allow(host)
        except ValueError as e:
            raise exceptions.CommandError(f"dejunk.allow: {e}") from None
        self.filtering.apply_state()
        return _said(f"dejunk: stepping aside on {host}: its pages and the requests they make pass untouched "
                     f"(dejunk.unallow {host} undoes it)")

    @command.command("dejunk.unallow")
    def unallow_site(self, host: str) -> str:
        """Filter a site again."""
        host = host.strip().lower()
        try:
            removed = bool(host) and self._state().unallow(host)
        except ValueError as e:
            raise exceptions.CommandError(f"dejunk.unallow: {e}") from None
        self.filtering.apply_state()
        if not removed and host in self.filtering.configured_allow:
            return _said(f"dejunk: {host} is allowed by the dejunk_allow option, which this command does not "
                         "change; nothing changed")
        still = host_matches(tuple(self.filtering.allow), host) if not any(c in host for c in "*?[") else None
        if still:
            return _said(f"dejunk: {host} is still allowed by {still}" + ("" if removed else "; nothing changed"))
        if not removed:
            return _said(f"dejunk: {host} was not allowed; nothing changed")
        return _said(f"dejunk: filtering {host} again")

    def _state(self) -> StateStore:
        if self.store is None:  # only before the first configure
            raise exceptions.CommandError("dejunk: the state store is not open yet")
        return self.store


    # --- finding the rule that broke a page ---------------------------------------------------------

    @command.command("dejunk.bisect")
    def bisect_flows(self, flows: Sequence[flow.Flow], expectation: str, value: str) -> str:
        """Find the rule that broke a page among flows (@shown: mitmweb's view): expectation text, selector or allowed.

        `text`: the page's text contains `value`; `selector`: it has an element matching `value`;
        `allowed`: every request whose URL contains `value` passes. The page is the first HTML
        document among the flows. Runs in the background; the culprit and its exception are logged.
        """
        if self.bisect_job is not None and self.bisect_job.is_alive():
            raise exceptions.CommandError("dejunk.bisect: a search is already running")
        engine = self.filtering.engine
        if engine is None:
            raise exceptions.CommandError("dejunk.bisect: no engine yet")
        try:
            wanted = culprit.Expectation(expectation, value)
        except ValueError as e:
            raise exceptions.CommandError(f"dejunk.bisect: {e}") from None
        records = [record_from_flow(f, f"flow {f.id}", keep_pages=True) for f in flows if isinstance(f, http.HTTPFlow)]
        plan = self.engines.plan
        paths = self.engines._with_myfilters(plan.paths) if plan is not None else None
        untrusted = plan.untrusted if plan is not None else ()
        self.bisect_said = None
        self.bisect_job = threading.Thread(target=self._bisect_in_background,
                                           args=(engine, records, wanted, paths, untrusted),
                                           name="dejunk-bisect", daemon=True)
        self.bisect_job.start()
        return _said(f"dejunk: bisecting {_count(len(records), 'flow')} in the background ({wanted.describe()}); "
                     "the culprit will be logged")

    def _bisect_in_background(self, engine, records, wanted, paths, untrusted) -> None:
        # In a thread of its own: replaying a page takes seconds, which the event loop must not wait for.
        try:
            replay = culprit.Replay(engine, records, wanted)
            result = culprit.find_culprits(replay)
            if result.culprits and paths:
                result.verification = culprit.verify_with_lists(result, replay, paths, untrusted)
            said = culprit.describe_replayed(result, wanted)
        except culprit.CulpritError as e:
            said = f"dejunk.bisect: {e}"
        except Exception as e:  # the proxy goes on; the user learns why there is no answer
            logger.error("dejunk.bisect failed", exc_info=True)
            said = f"dejunk.bisect failed: {type(e).__name__}: {e}"
        self.bisect_said = _said(said)

    @command.command("dejunk.bisect.start")
    def bisect_start(self, site: str) -> str:
        """Bisect a live site: reload its page after each step and answer dejunk.bisect.good or .bad."""
        try:
            said = self.bisection.start(site)
        except (ValueError, NoEngine) as e:
            raise exceptions.CommandError(f"dejunk.bisect.start: {e}") from None
        return _said(f"dejunk: {said}")

    @command.command("dejunk.bisect.good")
    def bisect_good(self) -> str:
        """The bisected site's page works now."""
        return self._bisect_answer(False)

    @command.command("dejunk.bisect.bad")
    def bisect_bad(self) -> str:
        """The bisected site's page is broken now."""
        return self._bisect_answer(True)

    @command.command("dejunk.bisect.stop")
    def bisect_stop(self) -> str:
        """End the live bisection: every rule applies to the site again."""
        try:
            return _said(f"dejunk: {self.bisection.stop()}")
        except NotRunning as e:
            return _said(f"dejunk: {e}")

    def _bisect_answer(self, broken: bool) -> str:
        try:
            return _said(f"dejunk: {self.bisection.answer(broken)}")
        except NotRunning as e:
            raise exceptions.CommandError(f"dejunk.bisect: {e}") from None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _said(message: str) -> str:
    """A command's answer, also logged: mitmdump shows no command results."""
    message = printable(message)  # it may quote a host name as typed
    logger.info(message)
    return message


addons = [Dejunk()]
# mitmproxy looks each event's hook up on this module too, on every event: cheaply once it has them all.
skip_module_hook_lookups(globals())
