"""The HTML report laid out by headless Chromium on a desktop and a phone: columns fit, numbers stay whole."""

from __future__ import annotations


import pytest

from filters.engine import Engine
from filters.reports.recordings import Record
from filters.reports.report import build_report, compare
from filters.reports.report_html import render_html
from filters.request import Request
from tests.e2e.chromium import BrowserError, Chromium

pytestmark = pytest.mark.e2e

LONG_RULE = "||ads.example^$third-party,domain=" + "|".join(f"news{i}.example" for i in range(12))
LONG_URL = "https://ads.example/pixel/collect?" + "&".join(f"field{i}=value{i}" for i in range(25))

# Read in the page once it is laid out: what overflows, how wide the text columns are, what wraps.
MEASURE = """(() => {
  const lines = (element) => {
    const range = document.createRange();
    range.selectNodeContents(element);
    return new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size;
  };
  const width = (element) => element.getBoundingClientRect().width;
  const result = {viewport: window.innerWidth, overflowing: [], code: [], prose: [], kept: [], numbers: [], plots: []};
  for (const box of document.querySelectorAll("div.wide")) {
    if (!box.querySelector("svg") && box.scrollWidth > box.clientWidth + 1) {
      result.overflowing.push([box.firstElementChild.id, box.scrollWidth, box.clientWidth]);
    }
  }
  for (const td of document.querySelectorAll("td.u")) result.code.push([td.textContent.slice(0, 40), width(td)]);
  for (const td of document.querySelectorAll("td.w")) result.prose.push([td.textContent.slice(0, 40), width(td)]);
  for (const td of document.querySelectorAll("td.k")) result.kept.push([td.textContent, lines(td)]);
  for (const td of document.querySelectorAll("td.n")) {
    result.numbers.push([td.textContent, lines(td), getComputedStyle(td).textAlign]);
  }
  for (const svg of document.querySelectorAll("svg")) {
    result.plots.push([svg.id, width(svg), Number(svg.getAttribute("width")),
                       svg.getBoundingClientRect().height, Number(svg.getAttribute("height"))]);
  }
  return result;
})()"""


def exchange(url: str, type: str = "script", size: int | None = 4_000, **fields) -> Record:
    request = Request.from_strings(url, "https://news.example/", type)
    return Record(source="flow", origin="test", url=url, host=request.host, type=type, request=request, size=size,
                  status=200, time=fields.pop("time", 1_767_225_600.0), **fields)


def report_page() -> str:
    """A report with long URLs and rules in every kind of table, failures over time, and a comparison."""
    records = [
        exchange("https://news.example/2026/01/a-long-story-about-something-that-happened-somewhere.html",
                 type="document", size=120_000, action="rewritten", removed=12,
                 selectors=("##.ad", "###sponsored-content-wrapper-with-a-long-name"), bytes_before=120_000,
                 bytes_after=110_000, page=b"<html></html>"),
        exchange(LONG_URL, type="image", action="blocked", rule=LONG_RULE, list="easyprivacy.txt", line=11518),
        exchange("https://securepubads.g.doubleclick.net/tag/js/gpt.js", action="blocked",
                 rule="||g.doubleclick.net^", list="easylist.txt", line=59104),
        exchange("https://cdn.example/lib.js", size=None, exception="@@||cdn.example^$script"),
        exchange("https://img.example/x.jpg", type="image", action="policy_image", pattern="@bad"),
        *(exchange(f"https://down{i % 3}.example/", size=0, action="upstream_error",
                   failure=("dns", "refused", "response_timeout")[i % 3], time=1_767_225_600.0 + 7 * i)
          for i in range(30)),
    ]
    report = build_report(records)
    before = Engine.from_text("||doubleclick.net^\n", "old.txt")
    after = Engine.from_text(f"{LONG_RULE}\n||ads.example^\n", "new.txt")
    report.compare = compare(
        records, before, after, lists_before=["old.txt"], lists_after=["new.txt"],
        rewriters=(
            lambda body, url, ctype: (1, ["##.ad"]),
            lambda body, url, ctype: (3, ["##.ad", "###sponsored-content-wrapper-with-a-long-name", "##.promo"]),
        ),
    )
    return render_html(report)


@pytest.fixture(scope="module")
def browser(tmp_path_factory, chromium_binary):
    binary = chromium_binary
    workdir = tmp_path_factory.mktemp("report-layout")
    # The page is a local file and loads nothing, so no proxy is ever used; none is running.
    chromium = Chromium(workdir, "http://127.0.0.1:9", binary=binary)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="module")
def page_url(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(report_page(), encoding="utf-8")
    return path.as_uri()


def measure(browser: Chromium, url: str, width: int) -> dict:
    tab = browser.open("about:blank", settle=0.1)
    try:
        tab.call("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": width < 600})
        tab.load(url, settle=0.2)
        return tab.evaluate(MEASURE)
    finally:
        try:
            tab.call("Target.closeTarget", {"targetId": tab.target})
        except BrowserError:
            pass


def test_desktop_layout(browser, page_url):
    layout = measure(browser, page_url, 1280)
    assert layout["viewport"] == 1280
    assert layout["overflowing"] == []
    # URLs and rules get room (the old layout squeezed them to ~110 px beside long texts).
    assert layout["code"] and min(w for _, w in layout["code"]) >= 200, layout["code"]
    assert layout["prose"] and min(w for _, w in layout["prose"]) >= 120, layout["prose"]
    # `list.txt:1234`, types and kinds stay on one line; numbers and sizes never wrap and sit right.
    assert all(lines == 1 for _, lines in layout["kept"]), [k for k in layout["kept"] if k[1] != 1]
    assert all(lines == 1 and align == "right" for _, lines, align in layout["numbers"]), [
        n for n in layout["numbers"] if n[1] != 1 or n[2] != "right"]
    assert {plot[0] for plot in layout["plots"]} == {"plot-bytes-by-host", "plot-failures-over-time"}


def test_phone_layout(browser, page_url):
    layout = measure(browser, page_url, 400)
    assert layout["viewport"] == 400
    assert layout["overflowing"] == []  # every table fits the screen
    assert min(w for _, w in layout["code"]) >= 80, layout["code"]
    assert all(lines == 1 and align == "right" for _, lines, align in layout["numbers"]), [
        n for n in layout["numbers"] if n[1] != 1 or n[2] != "right"]
    # Plots keep their size (their 11 px labels stay readable) and scroll sideways instead of shrinking.
    for plot_id, shown_width, width, shown_height, height in layout["plots"]:
        assert (round(shown_width), round(shown_height)) == (width, height), plot_id
