"""Rewriting pages off mitmproxy's event loop: worker processes, each page with a time budget of its own.

A page goes to a worker as it came from the server (raw bytes and Content-Encoding): the worker
decodes it with a cap (`filters.html.compression`: a decompression bomb stops there and the page
passes as it came), applies the `$replace` rules of its request if any (`filters.html.replace`;
a script or JSON body that only those rules change takes the same way), rewrites it, and encodes
the new body again, so neither decoding, replacing nor compressing ever runs on the event loop.
The proxy sets the returned raw bytes on the response.

Workers are processes of dejunk's own (started with "spawn": the proxy is multi-threaded, and
forking a threaded process is unsafe), each with a pipe and a thread in the proxy that hands it
one page at a time, so a page that runs too long ends only its own worker:

- Budget. A page has `timeout` seconds of worker time. The worker stops itself at the deadline
  (`rewrite_page` checks it between steps); if it does not answer within a grace period after
  that, the proxy kills that worker and starts another. Either way the page goes out unrewritten.
- Queue. The wait for a free worker (and for a new worker to load the index) does not eat into
  the budget: it has a limit of its own, the same number of seconds, and a page that waited
  longer goes out unrewritten with its own reason ("no page worker free"), so a slow spell is
  seen as such. A page is thus answered within about twice the timeout at worst.
- A worker that died (killed, crashed, out of memory) is found before a page is handed to it or
  when it stops answering; it is replaced, and the page it had is delivered unrewritten. Both are
  reported (`PageDone.replaced`, `WorkerDied`) for the caller to count and log.
- Workers ignore SIGINT (a terminal's Ctrl-C goes to the whole process group): the proxy stops
  them when it shuts down.

Each worker loads the engine's generic cosmetic index once, at start, from a file (written when
the pool is made, unless the index is stored already), so a page travels with only its own small
rule set and the proxy need not keep the index at all. On one core a thread rewrites instead (it
stops at the deadline too, but a thread cannot be killed: one stuck past it is left behind and a
fresh thread takes the next pages). Make a pool when an engine is ready, not on the first page.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from multiprocessing import resource_tracker

from ..cosmetic.rules import PageRules, RuleIndex, StoredIndex
from ..html import compression
from ..html.replace import replace_body
from ..html.rewrite import PageTimeout, RewriteResult, inject_page, install_generic_index, rewrite_page

logger = logging.getLogger("dejunk")

GRACE = 1.0  # seconds a worker has past a page's deadline to stop by itself before it is killed
THREAD_GRACE = 0.5  # the same for the thread used on one core, which is abandoned instead
STOP_WAIT = 1.0  # seconds a stopping worker has to exit before it is killed


def default_workers() -> int:
    """Worker processes: all cores but one, at least two and at most four; 0 (a thread) on one core.

    Two on two cores: the proxy itself mostly waits on the network, and with one worker a single
    slow page would hold every other page back.
    """
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(4, max(2, cores - 1))


@dataclass(slots=True)
class PageJob:
    """One body as the server sent it, and what to do with it: `$replace` rules, then a page's cosmetic rules."""

    raw: bytes
    content_encoding: str | None
    url: str
    content_type: str | None
    rules: PageRules | None  # None: no cosmetic rewrite (a body only `$replace` rules change)
    mode: str
    budget: float  # seconds of work
    limit: int  # most bytes the body may have once decoded (and once replaced)
    replacements: tuple[tuple[str, str], ...] = ()  # `$replace` (value, rule and place), applied first
    csp: tuple[str, ...] = ()  # the response's Content-Security-Policy values
    csp_report_only: tuple[str, ...] = ()  # and its Content-Security-Policy-Report-Only values
    inject_only: bool = False  # too large to rewrite: only its scriptlets and styles go in


@dataclass(slots=True)
class PageDone:
    """What became of a body: `result` of the rewrite (None without one), its new raw bytes."""

    result: RewriteResult | None
    raw_content: bytes | None = None  # the new body, encoded as it came; None when unchanged
    replaced: list[str] = field(default_factory=list)  # dead workers found and replaced on the way
    too_large: bool = False  # over the limit once decoded (or once replaced): nothing was changed
    replaced_by: tuple[str, ...] = ()  # the `$replace` rules (with their place) that changed the body
    replace_note: str | None = None  # why the `$replace` rules could not be applied, if they could not
    replace_sizes: tuple[int, int] = (0, 0)  # the decoded body's length before and after the replacements


class QueueTimeout(TimeoutError):
    """No page worker was free (or ready) in time: the page goes out unrewritten."""


class UndecodableBody(ValueError):
    """The body does not decode with its Content-Encoding: the page goes out as it came."""


class WorkerDied(RuntimeError):
    """The worker died while it had the page (it has been replaced)."""


def run_page(job: PageJob) -> PageDone:
    """Decode, replace, rewrite and encode one body: what a worker does (PageTimeout past the budget)."""
    deadline = time.monotonic() + job.budget
    try:
        body = compression.decode(job.raw, job.content_encoding, job.limit)
    except ValueError as e:
        raise UndecodableBody(str(e)) from None
    if body is None:
        return PageDone(None, too_large=True)
    replaced_by: tuple[str, ...] = ()
    note = None
    sizes = (0, 0)
    if job.replacements:
        replaced = replace_body(body, job.content_type, job.replacements, deadline)
        if len(replaced.body) > job.limit:
            return PageDone(None, too_large=True)  # delivered as it came rather than grown past the cap
        sizes = (len(body), len(replaced.body))
        body, replaced_by, note = replaced.body, replaced.applied, replaced.reason
    result = None
    if job.rules is not None:
        if job.inject_only:
            result = inject_page(body, content_type=job.content_type, rules=job.rules, csp=job.csp,
                                 csp_report_only=job.csp_report_only)
        else:
            result = rewrite_page(body, url=job.url, content_type=job.content_type, rules=job.rules, mode=job.mode,
                                  deadline=deadline, csp=job.csp, csp_report_only=job.csp_report_only)
        if result.changed:
            body = result.body
        result.body = b""  # the caller gets the encoded body, or keeps the one it has
    if not replaced_by and (result is None or not result.changed):
        return PageDone(result, replace_note=note)
    return PageDone(result, compression.encode(body, job.content_encoding), replaced_by=replaced_by, replace_note=note,
                    replace_sizes=sizes)


# --- the worker process ----------------------------------------------------------------------------


def _worker_main(conn, stored: StoredIndex | None) -> None:
    """A worker process: load the index, say "ready", then rewrite pages until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the proxy, which stops its workers
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by the parent while it started us
    if stored is not None:
        try:
            install_generic_index(stored.load())
        except Exception as e:  # noqa: BLE001 - whatever it is, the worker cannot serve
            # Said to the pool, which reports it if it still wants this worker. A pool closed while
            # the worker started has removed its file already: then nobody is listening.
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e) or type(e).__name__
            try:
                conn.send(("failed", f"cannot read the generic cosmetic index {stored.path}: {why}"))
            except (OSError, ValueError):
                pass
            return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the proxy is gone
        if job is None:
            return
        try:
            answer = ("done", run_page(job))
        except PageTimeout:
            answer = ("timeout", None)
        except UndecodableBody as e:
            answer = ("undecodable", str(e))
        except Exception as e:  # the page goes out as it came; the proxy records why
            answer = ("error", f"{type(e).__name__}: {e}")
        try:
            conn.send(answer)
        except (EOFError, OSError):
            return
        except Exception as e:  # an answer that does not pickle
            conn.send(("error", f"{type(e).__name__}: {e}"))


class _Worker:
    """One worker process, its end of the pipe, and whether it said it is ready."""

    def __init__(self, context, stored: StoredIndex | None):
        self.conn, child = context.Pipe(duplex=True)
        self.process = context.Process(target=_worker_main, args=(child, stored), daemon=True,
                                       name="dejunk-page-worker")
        # The new process inherits this thread's signal mask: with SIGINT blocked from the start,
        # a Ctrl-C while it imports cannot reach it before it ignores SIGINT. (Starting
        # multiprocessing's resource tracker unblocks SIGINT in the starting thread: it runs first.)
        resource_tracker.ensure_running()
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        child.close()
        self.ready = False
        self.failure: str | None = None  # why it could not start, as it said

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def wait_ready(self, seconds: float) -> bool:
        """Whether the worker said it is ready within `seconds`; EOFError if it died."""
        if self.ready:
            return True
        if not self.conn.poll(max(0.0, seconds)):
            return False
        kind, value = self.conn.recv()
        if kind == "failed":
            self.failure = value
            raise EOFError(value)
        self.ready = kind == "ready"
        return self.ready

    def call(self, job: PageJob, seconds: float):
        """Send a page and wait up to `seconds` for the answer: (kind, value), or None when there is none in time."""
        self.conn.send(job)
        if not self.conn.poll(seconds):
            return None
        return self.conn.recv()

    def stop(self, wait: float = STOP_WAIT) -> None:
        """End the process: asked first, then terminated, then killed."""
        _stop_all([self], wait)


def _stop_all(workers: list[_Worker], wait: float) -> None:
    """End worker processes together: asked first (an idle one exits), then terminated, then killed."""
    for worker in workers:
        try:
            worker.conn.send(None)
        except (OSError, ValueError):
            pass
    for step in ("ask", "terminate", "kill"):
        if step == "terminate":
            for worker in workers:
                if worker.process.is_alive():
                    worker.process.terminate()
        elif step == "kill":
            for worker in workers:
                if worker.process.is_alive():
                    worker.process.kill()
        deadline = time.monotonic() + wait
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
        if not any(worker.process.is_alive() for worker in workers):
            break
    for worker in workers:
        worker.conn.close()


# --- the pool ------------------------------------------------------------------------------------


class RewritePool:
    """Hands pages to workers; `rewrite` is awaited from the event loop."""

    def __init__(self, generic: RuleIndex | StoredIndex | None, workers: int | None = None,
                 index_dir: str | None = None):
        self.workers = default_workers() if workers is None else workers
        # What an engine served by this pool holds as its generic index: with worker processes the
        # index is in a file they load (written here unless it is stored already), and the caller
        # keeps only that `StoredIndex` (see `Engines._with_pool`), so the rules live in the
        # workers, not in the proxy.
        self.generic = generic
        self._owned: StoredIndex | None = None
        if self.workers and isinstance(generic, RuleIndex):
            self.generic = self._owned = StoredIndex.save(generic, index_dir)
        self._stored = self.generic if isinstance(self.generic, StoredIndex) else None
        self._lock = threading.Lock()
        self._closed = False
        self._context = multiprocessing.get_context("spawn")
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        for _ in range(self.workers):
            worker = _Worker(self._context, self._stored)
            self._all.append(worker)
            self._idle.put(worker)
        # One thread per worker carries its pages (one thread does the work itself on one core).
        self._threads = self._new_threads()

    def _new_threads(self) -> concurrent.futures.ThreadPoolExecutor:
        return concurrent.futures.ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="dejunk-pages")

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers."""
        with self._lock:
            return [w.pid for w in self._all if w.pid is not None]

    async def rewrite(self, raw: bytes, *, content_encoding: str | None, url: str, content_type: str | None,
                      rules: PageRules | None, mode: str, timeout: float, limit: int,
                      replacements: tuple[tuple[str, str], ...] = (), csp: tuple[str, ...] = (),
                      csp_report_only: tuple[str, ...] = (), inject_only: bool = False) -> PageDone:
        """Rewrite one page (`rules`), and apply `$replace` `replacements` first, to a body as the server sent it.

        PageTimeout past the budget, QueueTimeout when no worker took it in time, WorkerDied,
        UndecodableBody; RuntimeError with the text of any error the rewriter raised.
        """
        if (self.workers and self.generic is not None and rules is not None
                and rules.generic_id == self.generic.fingerprint):
            rules = rules.without_generic()  # the workers hold the index already
        # (Rules of another engine, during a swap, travel whole: slower, but right.)
        job = PageJob(raw, content_encoding, url, content_type, rules, mode, timeout, limit, tuple(replacements), csp,
                      csp_report_only, inject_only)
        loop = asyncio.get_running_loop()
        taken = asyncio.Event()  # set when a pool thread takes the page: the queue wait is over
        threads = self._threads
        future = loop.run_in_executor(threads, self._serve, job, time.monotonic(), partial(loop.call_soon_threadsafe, taken.set))
        # The threads keep the time limits; this is a backstop against a thread that never returns,
        # which on one core, where the thread does the work itself, is a parse stuck in C code.
        # (asyncio.wait, not wait_for: the time limits raised inside are TimeoutErrors too.)
        waiting = asyncio.ensure_future(taken.wait())
        try:
            await asyncio.wait({future, waiting}, timeout=timeout + GRACE, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
        if future.cancelled():  # this pool was closed (a new engine came) while the page waited
            raise RuntimeError("the page workers were replaced while the page waited")
        if not future.done() and not taken.is_set():
            future.cancel()  # still queued: it leaves the queue
            raise QueueTimeout(f"no page worker free within {timeout} s")
        work = timeout + (GRACE + STOP_WAIT + timeout if self.workers else THREAD_GRACE)
        done, _ = await asyncio.wait({future}, timeout=work)
        if done:
            if future.cancelled():
                raise RuntimeError("the page workers were replaced while the page waited")
            return future.result()
        if not self.workers and threads is self._threads:
            self._threads = self._new_threads()  # the stuck thread is left behind: the next pages get a fresh one
            threads.shutdown(wait=False, cancel_futures=True)
        raise PageTimeout(f"rewrite took longer than {timeout} s")

    def _serve(self, job: PageJob, queued: float, taken) -> PageDone:
        """In a pool thread: take a worker, give it the page, and put it (or its replacement) back."""
        taken()
        if not self.workers:
            if time.monotonic() - queued > job.budget:
                raise QueueTimeout(f"waited longer than {job.budget} s for the rewriting thread")
            return run_page(job)
        worker = self._idle.get()
        replaced: list[str] = []
        try:
            if time.monotonic() - queued > job.budget:
                raise QueueTimeout(f"no page worker free within {job.budget} s")
            while True:
                if len(replaced) >= 3:  # workers that die as they start: not this page's doing
                    raise WorkerDied(f"page workers keep dying ({'; '.join(replaced)})")
                # A worker that died while idle is replaced before the page goes to it.
                if not worker.process.is_alive():
                    replaced.append(self._died(worker, "while idle" if worker.ready else "while starting"))
                    worker = self._replace(worker)
                    continue
                try:
                    ready = worker.wait_ready(job.budget - (time.monotonic() - queued))
                except (EOFError, OSError):
                    worker.process.join(1.0)  # it is ending: found dead above
                    continue
                if not ready:
                    raise QueueTimeout(f"no page worker free within {job.budget} s")
                break
            try:
                answer = worker.call(job, job.budget + GRACE)
            except (EOFError, OSError):
                if self._closed:
                    raise RuntimeError("the page workers were stopped") from None
                description = self._died(worker, f"while rewriting {job.url}")
                worker = self._replace(worker)
                raise WorkerDied(description) from None
            if answer is None:
                # Past its deadline and still silent: only this worker is ended.
                worker = self._replace(worker)
                raise PageTimeout(f"rewrite took longer than {job.budget} s; its worker was ended")
            kind, value = answer
            if kind == "timeout":
                raise PageTimeout(f"rewrite took longer than {job.budget} s")
            if kind == "undecodable":
                raise UndecodableBody(value)
            if kind == "error":
                raise RuntimeError(value)
            value.replaced = replaced
            return value
        finally:
            self._release(worker)

    def _died(self, worker: _Worker, when: str) -> str:
        worker.process.join(0.1)
        code = worker.process.exitcode
        how = worker.failure or (f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}")
        return f"page worker {worker.pid} died {when} ({how})"

    def _replace(self, worker: _Worker) -> _Worker:
        """Stop `worker` (if it still runs) and start another in its place (unless the pool is closing)."""
        worker.stop(wait=0.2)
        with self._lock:
            if self._closed:
                return worker
            fresh = _Worker(self._context, self._stored)
            self._all[self._all.index(worker)] = fresh
        return fresh

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            closed = self._closed
        if closed:
            worker.stop()  # the pool was closed while this page was being rewritten
        else:
            self._idle.put(worker)

    def close(self) -> None:
        """Stop the workers: idle ones now, busy ones when their page is done (or at once with `now`)."""
        self._close(now=False)

    def terminate(self) -> None:
        """Stop every worker now (the proxy is shutting down)."""
        self._close(now=True)

    def _close(self, now: bool) -> None:
        with self._lock:
            already, self._closed = self._closed, True
            workers = list(self._all)
        if not already:
            self._threads.shutdown(wait=False, cancel_futures=True)
        idle = []
        while True:
            try:
                idle.append(self._idle.get_nowait())
            except queue.Empty:
                break
        # A busy worker's thread stops it when its page is done, unless it is stopped now. The
        # waiting is done in a thread of its own unless stopping now: a reload runs on the event loop.
        if now:
            _stop_all(workers, 0.5)
        elif idle:
            threading.Thread(target=_stop_all, args=(idle, 0.5), name="dejunk-stop-workers", daemon=True).start()
        if self._owned is not None:
            self._owned.remove()
