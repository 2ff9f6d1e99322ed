"""What the proxy would do with a request, and why: one answer for `dejunk.explain` and the dashboard.

`request_to_explain` turns what a user types (URL, page, type name) into the `Request` the proxy
would make of it; `explain(filtering, request, ...)` walks the same steps as the request hook
(`Filtering._decide_views`) and returns an `Explanation`: the step that decides, its rule, list
and line, any exception and redirect, and the sentence `dejunk.explain` prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..network.decision import Decision
from ..request import RESOURCE_TYPES, Request, infer_type, source_from_headers, type_by_name


@dataclass(frozen=True, slots=True)
class Explanation:
    """What happens to a request now: `action` is one of the RecentLog actions or "disabled"/"not_filtering"/
    "no_filters"/"failed"; `decision` is the list decision when the lists decided."""

    action: str
    text: str
    decision: Decision | None = None
    pattern: str | None = None  # the allowed-site or connect-policy pattern that decided

    def to_dict(self) -> dict:
        """The dashboard's form: rule, list, line, exception and redirect as plain values."""
        decision = self.decision
        exception = None
        if decision is not None and decision.exception:
            exception = {"rule": decision.exception, "list": decision.exception_list, "line": decision.exception_line}
        return {
            "action": self.action,
            "rule": decision.filter if decision is not None else self.pattern,
            "list": decision.list if decision is not None else None,
            "line": decision.line if decision is not None else None,
            "exception": exception,
            "redirect": decision.redirect if decision is not None and decision.blocked else None,
            "text": self.text,
        }


def request_to_explain(url: str, source: str = "", request_type: str = "") -> tuple[Request, str]:
    """The request the proxy makes of a typed URL, page and type name, and the type; ValueError for an unknown type.

    Without a type it is inferred as scripts/check.py infers it; the page is taken as the proxy
    takes a Referer (a document is its own page).
    """
    if request_type:
        named = type_by_name(request_type)
        if named is None:
            raise ValueError(f"unknown type {request_type!r} (types: {', '.join(RESOURCE_TYPES)})")
        request_type = named
    else:
        request_type = infer_type(url, source or None)
    page = source_from_headers(url, request_type, referer=source or None)
    return Request.from_strings(url, page, request_type), request_type


def _action_of(decision: Decision) -> str:
    if decision.blocked:
        return "redirected" if decision.redirect else "blocked"
    return "exception" if decision.exception else "allowed"


def explain(filtering, request: Request, *others: Request) -> Explanation:
    """What `filtering` (a `Filtering`) does with `request` now (`others`: the same request as sent to another host)."""
    if not filtering.settings.enabled:
        return Explanation("disabled", "passes untouched: dejunk is disabled (dejunk_enabled is false)")
    if filtering.failed is not None:
        return Explanation("not_filtering", f"refused with a 503 page: dejunk is not filtering ({filtering.failed})")
    if filtering.engine is None:
        return Explanation("no_filters", "passes untouched: no filters are loaded yet")
    views = (request, *others)
    try:
        step, found, request = filtering._decide_views(views)
    except Exception as e:  # what the request hook would meet too
        return Explanation("failed", f"passes through unfiltered: dejunk fails on it ({type(e).__name__}: {e})")
    to = f" (it names {views[0].host} but goes to {views[1].host}; the stricter answer stands)" if others else ""
    if step == "allowed_site":
        return Explanation("allowed_site", f"passes untouched: dejunk steps aside on this site (allowed by {found}){to}",
                           pattern=found)
    if step == "policy_connect":
        return Explanation("policy", f"refused with a 403 page: the connect policy rejects {request.host} "
                                     f"({found.pattern or 'its default'}){to}", pattern=found.pattern)
    words = [found.describe() + to]
    if not found.blocked:
        image = ("image", "images from it are replaced by a transparent GIF", views[:1])  # decided on the response
        cookie = ("cookie", "cookies to and from it are removed", views)
        for policy, what, hosts in (image, cookie):
            for view in hosts:
                verdict = filtering.policies.check(policy, view.host)
                if not verdict.accepted:
                    words.append(f"{what} (the {policy} policy rejects {view.host}: {verdict.pattern or 'its default'})")
                    break
    return Explanation(_action_of(found), "; ".join(words), decision=found)
