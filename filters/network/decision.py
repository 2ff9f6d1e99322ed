"""What the network filters decided about one request, as plain data."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of `Engine.check`.

    `filter` is the blocking rule that matched (kept even when an exception overrode it, so that
    `dejunk.explain` can show both); `exception` is the `@@` rule that overrode it.
    """

    blocked: bool
    filter: str | None = None
    list: str | None = None
    line: int | None = None
    exception: str | None = None
    exception_list: str | None = None
    exception_line: int | None = None
    important: bool = False
    redirect: str | None = None
    removeparam_url: str | None = None
    csp: str | None = None
    # The `$removeparam`/`$csp`/`$replace` rules behind removeparam_url, csp and replace, each as "rule (list:line)".
    modifiers: tuple[str, ...] = ()
    # `$replace` for the response body: (value `/regex/replacement/flags`, "rule (list:line)"), in list order.
    replace: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def rule_location(self) -> str:
        """`list:line` of the deciding rule, or '' when no rule matched."""
        if self.filter is None:
            return ""
        return f"{self.list}:{self.line}" if self.line is not None else str(self.list)

    def describe(self) -> str:
        """The decision in plain words, naming the rule and where it comes from."""
        if self.blocked:
            verb = "redirected to " + self.redirect if self.redirect else "blocked"
            text = f"{verb} by {self.filter} ({self.rule_location})"
            if self.important:
                text += " ($important: exceptions do not apply)"
            return text
        if self.exception:
            where = f"{self.exception_list}:{self.exception_line}" if self.exception_line is not None else self.exception_list
            if self.filter:
                text = f"allowed: {self.filter} ({self.rule_location}) overridden by {self.exception} ({where})"
            else:
                text = f"allowed by {self.exception} ({where})"
        elif self.modifiers:
            text = "allowed"
        else:
            text = "allowed: no rule matched"
        if self.removeparam_url:
            text += f"; parameters removed: {self.removeparam_url}"
        if self.csp:
            text += f"; CSP added: {self.csp}"
        if self.replace:
            text += f"; body changed by $replace={', '.join(value for value, _ in self.replace)}"
        if self.modifiers:
            text += "; by " + ", ".join(self.modifiers)
        return text


ALLOWED = Decision(blocked=False)
