// dejunk's dashboard: one page per hash route, data from /api/ (see README, "Dashboard").
// Text from the API only ever reaches the page through textContent or attributes set as
// strings (URLs and rule texts are written by strangers); nothing here uses innerHTML.
"use strict";

(function () {
  const TOKEN = (document.querySelector('meta[name="dejunk-token"]') || {}).content || "";
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  // ---- small helpers -------------------------------------------------------------------

  /** An element with a class and text (text set as text, never parsed). */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const key in attrs) node.setAttribute(key, String(attrs[key]));
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  const numberFormat = new Intl.NumberFormat();
  function count(n) {
    return numberFormat.format(Number(n) || 0);
  }

  function plural(n, word) {
    return count(n) + " " + word + (Number(n) === 1 ? "" : "s");
  }

  function bytes(n) {
    n = Number(n) || 0;
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
  }

  function parseTime(value) {
    if (!value) return null;
    const date = new Date(value);
    return isNaN(date.getTime()) ? null : date;
  }

  function timeText(value, withDate) {
    const date = parseTime(value);
    if (!date) return value ? String(value) : "–";
    const options = withDate ? { dateStyle: "medium", timeStyle: "short" } : { timeStyle: "medium" };
    return new Intl.DateTimeFormat(undefined, options).format(date);
  }

  function ago(value) {
    const date = parseTime(value);
    if (!date) return "";
    const seconds = Math.round((Date.now() - date.getTime()) / 1000);
    const future = seconds < 0;
    let s = Math.abs(seconds);
    let text;
    if (s < 60) text = s + " s";
    else if (s < 3600) text = Math.round(s / 60) + " min";
    else if (s < 172800) text = Math.round(s / 3600) + " h";
    else text = Math.round(s / 86400) + " days";
    return future ? "in " + text : text + " ago";
  }

  function hostOf(url) {
    try { return new URL(url).hostname; } catch (e) { return ""; }
  }

  let toastTimer = 0;
  function toast(text, action) {
    const box = $("toast");
    clear(box);
    box.appendChild(el("span", "", text));
    if (action) {
      const button = el("button", "quiet", action.label);
      button.type = "button";
      button.addEventListener("click", () => { box.hidden = true; action.run(); });
      box.appendChild(button);
    }
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  // ---- the API ---------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  const OFFLINE = "Cannot reach dejunk: the proxy is not running, or this device is offline. Retrying…";

  /** Plain words for what went wrong, for the banner. */
  function describe(error) {
    if (!(error instanceof ApiError)) return "dejunk's dashboard failed: " + error.message;
    if (error.status === 0) return OFFLINE;
    if (error.status === 401) return "The dashboard needs its password: reload the page and sign in.";
    if (error.status === 403) return "dejunk refused the change (403: " + error.message + "). Reload the page if the proxy restarted.";
    if (error.status >= 500) return "dejunk failed (" + error.status + "): " + error.message;
    return error.message + " (" + error.status + ")";
  }

  async function api(method, path, body) {
    const init = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" };
    if (method !== "GET") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-Dejunk-Token"] = TOKEN;
      init.body = JSON.stringify(body || {});
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "network error");
    }
    let data = null;
    const text = await response.text();
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!response.ok) {
      const message = data && typeof data.error === "string" ? data.error : (response.statusText || "error");
      throw new ApiError(response.status, message);
    }
    if (data === null) throw new ApiError(response.status, "the answer was not JSON");
    return data;
  }

  // What failed, by what was asked (a path, or "change" for any POST/PUT): a later success of the
  // same clears it, so one page's refresh does not hide another call's failure.
  const failures = new Map();
  let changeTimer = 0;

  function renderErrors() {
    const box = $("error");
    clear(box);
    const messages = Array.from(new Set(failures.values()));
    for (const message of messages) box.appendChild(el("p", "", message));
    if (messages.length) {
      const dismiss = el("button", "small quiet", "Dismiss");
      dismiss.type = "button";
      dismiss.addEventListener("click", () => { failures.clear(); renderErrors(); });
      box.appendChild(dismiss);
    }
    box.hidden = messages.length === 0;
  }

  /** Call the API; on failure show the banner and return null (so callers can just stop). */
  async function call(method, path, body) {
    const key = method === "GET" ? path.split("?")[0] : "change";
    try {
      const data = await api(method, path, body);
      // Being reachable again clears "offline" from every call.
      for (const [k, message] of failures) if (k === key || message === OFFLINE) failures.delete(k);
      renderErrors();
      return data;
    } catch (e) {
      failures.set(key, describe(e));
      if (key === "change") {
        clearTimeout(changeTimer);
        changeTimer = setTimeout(() => { failures.delete("change"); renderErrors(); }, 30000);
      }
      renderErrors();
      return null;
    }
  }

  // ---- routing -------------------------------------------------------------------------

  const pages = {};
  let current = null;

  function route() {
    const hash = location.hash.replace(/^#/, "") || "/";
    const [path, query] = hash.split("?");
    const name = pages[path] ? path : "/";
    for (const section of document.querySelectorAll(".page")) section.hidden = section.dataset.route !== name;
    for (const link of document.querySelectorAll(".nav a")) {
      if (link.dataset.route === name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    const changed = current !== name;
    if (current && changed && pages[current].leave) pages[current].leave();
    current = name;
    const params = new URLSearchParams(query || "");
    pages[name].enter(params, changed);
    const heading = document.querySelector('.page[data-route="' + name + '"] h1');
    document.title = (heading ? heading.textContent + " · " : "") + "dejunk";
    if (changed && document.activeElement && document.activeElement.closest && document.activeElement.closest(".nav")) {
      $("main").focus({ preventScroll: true });
    }
  }

  /** A repeating refresh that pauses while the tab is hidden or the page left. */
  class Poller {
    constructor(run, ms) { this.run = run; this.ms = ms; this.timer = 0; this.busy = false; }
    start() { this.stop(); this.tick(); }
    stop() { clearTimeout(this.timer); this.timer = 0; this.running = false; }
    async tick() {
      this.running = true;
      if (!document.hidden && !this.busy) {
        this.busy = true;
        try { await this.run(); } finally { this.busy = false; }
      }
      if (this.running) this.timer = setTimeout(() => this.tick(), this.ms);
    }
  }

  // ---- header status ---------------------------------------------------------------------

  async function refreshStatus() {
    const data = await call("GET", "/api/status");
    if (!data) return;
    const status = $("status");
    status.className = "status " + (data.filtering ? "on" : "off");
    status.textContent = (data.filtering ? "Filtering" : "Not filtering") +
      " · " + plural(data.lists, "list") + " · " + plural(data.rules, "rule");
    const problems = Array.isArray(data.problems) ? data.problems : [];
    const box = $("problems");
    clear(box);
    for (const problem of problems) box.appendChild(el("p", "", problem));
    box.hidden = problems.length === 0;
  }

  // ---- overview --------------------------------------------------------------------------

  let chartData = null;

  function range() {
    const checked = document.querySelector('input[name="range"]:checked');
    return checked ? checked.value : "hour";
  }

  async function refreshOverview() {
    const data = await call("GET", "/api/stats?range=" + range());
    if (!data) return;
    $("ov-requests").textContent = count(data.requests);
    $("ov-blocked").textContent = count(data.blocked);
    $("ov-blocked-share").textContent = data.requests ? (100 * data.blocked / data.requests).toFixed(1) + " % of requests" : "";
    $("ov-bytes").textContent = bytes(data.bytes_saved);
    $("ov-since").textContent = data.since ? timeText(data.since, true) : "not yet";
    chartData = { history: Array.isArray(data.history) ? data.history : [], range: range() };
    drawChart();
    fillTop($("ov-hosts"), data.top_blocked_hosts || [], "No request blocked yet.", false);
    fillTop($("ov-rules"), data.top_rules || [], "No rule used yet.", true);
    const errors = Object.entries(data.upstream_errors || {}).sort((a, b) => b[1] - a[1]);
    fillTop($("ov-errors"), errors, "No upstream failure.", false);
    $("ov-updated").textContent = "Updated " + timeText(new Date().toISOString()) + ".";
  }

  function fillTop(list, rows, emptyText, mono) {
    clear(list);
    if (!rows.length) {
      list.appendChild(el("li", "empty muted", emptyText));
      return;
    }
    const most = Math.max(...rows.map((r) => Number(r[1]) || 0), 1);
    for (const [name, n] of rows) {
      const item = el("li", "top-item");
      const label = el("span", "top-name" + (mono ? " mono" : ""), name);
      label.title = String(name);
      item.appendChild(label);
      item.appendChild(el("span", "top-count", count(n)));
      const bar = el("span", "top-bar");
      bar.style.width = Math.max(2, Math.round(100 * (Number(n) || 0) / most)) + "%";  // CSSOM: allowed by the CSP
      item.appendChild(bar);
      list.appendChild(item);
    }
  }

  /** A round step for the y axis with about four lines. */
  function niceStep(max) {
    const rough = max / 4;
    if (rough <= 1) return 1;  // counts are whole numbers
    const power = Math.pow(10, Math.floor(Math.log10(rough)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= rough) return m * power;
    return 10 * power;
  }

  function drawChart() {
    const box = $("chart");
    clear(box);
    if (!chartData) return;
    const history = chartData.history;
    const width = Math.max(280, box.clientWidth || 600);
    const height = width < 500 ? 180 : 220;
    const pad = { left: 44, right: 8, top: 10, bottom: 24 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const most = Math.max(1, ...history.map((h) => Number(h.requests) || 0), ...history.map((h) => Number(h.blocked) || 0));
    const step = niceStep(most);
    const top = Math.max(step, Math.ceil(most / step) * step);
    const y = (v) => pad.top + plotH - (plotH * v) / top;
    const chart = svg("svg", { viewBox: "0 0 " + width + " " + height, width: width, height: height, role: "img", "aria-labelledby": "chart-title" });
    const title = svg("title", { id: "chart-title" });
    const totalReq = history.reduce((s, h) => s + (Number(h.requests) || 0), 0);
    const totalBlk = history.reduce((s, h) => s + (Number(h.blocked) || 0), 0);
    const span = chartData.range === "days" ? "the last 7 days, per hour" : "the last hour, per minute";
    title.textContent = "Requests and blocked requests over " + span + ": " + count(totalReq) + " requests, " + count(totalBlk) + " blocked.";
    $("chart-summary").textContent = title.textContent;
    chart.appendChild(title);
    for (let v = 0; v <= top; v += step) {
      chart.appendChild(svg("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }));
      const label = svg("text", { class: "axis", x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" });
      label.textContent = v >= 10000 ? Math.round(v / 1000) + "k" : count(v);
      chart.appendChild(label);
    }
    const n = Math.max(history.length, 1);
    const slot = plotW / n;
    const barW = Math.max(1, slot * 0.78);
    history.forEach((bucket, i) => {
      const x = pad.left + i * slot + (slot - barW) / 2;
      const req = Number(bucket.requests) || 0;
      const blk = Number(bucket.blocked) || 0;
      const group = svg("g", { class: "bucket" });
      const tip = svg("title", {});
      tip.textContent = timeText(bucket.t, chartData.range === "days") + ": " + count(req) + " requests, " + count(blk) + " blocked";
      group.appendChild(tip);
      group.appendChild(svg("rect", { class: "hit", x: pad.left + i * slot, y: pad.top, width: slot, height: plotH }));
      if (req) group.appendChild(svg("rect", { class: "bar-requests", x: x, y: y(req), width: barW, height: y(0) - y(req), rx: Math.min(2, barW / 3) }));
      if (blk) group.appendChild(svg("rect", { class: "bar-blocked", x: x, y: y(blk), width: barW, height: y(0) - y(blk), rx: Math.min(2, barW / 3) }));
      chart.appendChild(group);
    });
    chart.appendChild(svg("line", { class: "baseline", x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0) }));
    // Time labels at round times: every 5-30 minutes (hour), at midnights (days), as room allows.
    const days = chartData.range === "days";
    const room = Math.max(2, Math.floor(plotW / (days ? 56 : 64)));
    const minutes = days ? [1440, 2880] : [5, 10, 15, 20, 30];
    const every = minutes.find((m) => (days ? 7 * 1440 : 60) / m <= room) || minutes[minutes.length - 1];
    const dayFormat = new Intl.DateTimeFormat(undefined, plotW < 520 ? { weekday: "short" } : { weekday: "short", day: "numeric" });
    const minuteFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
    let previousDay = null;
    history.forEach((bucket, i) => {
      const date = parseTime(bucket.t);
      if (!date) return;
      const dayNumber = Math.floor((date.getTime() - date.getTimezoneOffset() * 60000) / 86400000);
      const newDay = previousDay !== null && dayNumber !== previousDay;  // the first bucket of a day
      previousDay = dayNumber;
      const sinceMidnight = date.getHours() * 60 + date.getMinutes();
      if (days ? !newDay || (every > 1440 && dayNumber % 2) : sinceMidnight % every !== 0) return;
      // Centred under its bucket, unless that would cut it at either end.
      let x = pad.left + i * slot + slot / 2;
      let anchor = "middle";
      if (x > width - 30) { x = width - 2; anchor = "end"; } else if (x < pad.left + 20) { x = pad.left; anchor = "start"; }
      const label = svg("text", { class: "axis", x: x, y: height - 6, "text-anchor": anchor });
      label.textContent = days ? dayFormat.format(date) : minuteFormat.format(date);
      chart.appendChild(label);
    });
    box.appendChild(chart);
  }

  const overviewPoller = new Poller(refreshOverview, 5000);
  pages["/"] = {
    enter() { overviewPoller.start(); },
    leave() { overviewPoller.stop(); },
  };

  // ---- log -------------------------------------------------------------------------------

  const LOG_KEEP = 1000;
  const log = { entries: [], lastId: 0, paused: false };

  const ACTION_NAMES = {
    blocked: "blocked", redirected: "redirected", allowed: "allowed",
    exception: "exception", allowed_site: "allowed site", policy: "policy",
  };

  async function pollLog() {
    if (log.paused) return;
    log.polls = (log.polls || 0) + 1;
    if (log.lastId && log.polls % 10 === 0) {
      // A restarted proxy numbers its decisions from 1 again: start over from its newest.
      const newest = await call("GET", "/api/log?limit=1");
      if (Array.isArray(newest) && newest.length && Number(newest[0].id) < log.lastId) log.lastId = 0;
    }
    const query = log.lastId ? "?limit=500&since=" + log.lastId : "?limit=500";
    const data = await call("GET", "/api/log" + query);
    if (!Array.isArray(data) || !data.length) return;
    const fresh = data.filter((e) => Number(e.id) > log.lastId);
    if (!fresh.length) return;
    log.lastId = Math.max(log.lastId, ...fresh.map((e) => Number(e.id) || 0));
    // Both newest first.
    log.entries = fresh.concat(log.entries).slice(0, LOG_KEEP);
    renderLog();
  }

  function logMatches(entry, words, action) {
    if (action && entry.action !== action) return false;
    if (!words.length) return true;
    const hay = [entry.url, entry.action, entry.type, entry.rule, entry.list, entry.site].join(" ").toLowerCase();
    return words.every((w) => hay.includes(w));
  }

  function renderLog() {
    const words = $("log-filter").value.toLowerCase().split(/\s+/).filter(Boolean);
    const action = $("log-action").value;
    const body = $("log-rows");
    const shown = log.entries.filter((e) => logMatches(e, words, action)).slice(0, 500);
    clear(body);
    for (const entry of shown) body.appendChild(logRow(entry));
    $("log-count").textContent = shown.length + " of " + log.entries.length + " requests shown" + (log.paused ? " (paused)" : "");
  }

  function logRow(entry) {
    const row = el("tr", "act-" + String(entry.action || "").replace(/[^a-z_]/g, ""));
    const time = el("td", "time", timeText(entry.time));
    time.dataset.label = "Time";
    row.appendChild(time);
    const action = el("td", "action");
    action.appendChild(el("span", "badge act-" + String(entry.action || "").replace(/[^a-z_]/g, ""), ACTION_NAMES[entry.action] || entry.action || "?"));
    row.appendChild(action);
    const type = el("td", "type muted", entry.type || "");
    row.appendChild(type);
    const url = el("td", "url mono", entry.url);
    url.title = String(entry.url || "");
    if (entry.site && entry.site !== hostOf(entry.url)) url.appendChild(el("span", "from muted", "on " + entry.site));
    row.appendChild(url);
    const rule = el("td", "rule");
    if (entry.rule) {
      rule.appendChild(el("code", "", entry.rule));
      if (entry.list) rule.appendChild(el("span", "where muted", entry.list + (entry.line ? ":" + entry.line : "")));
    }
    row.appendChild(rule);
    const tools = el("td", "tools");
    const site = entry.site || hostOf(entry.url);
    if (site && entry.action !== "allowed_site") {
      const allow = el("button", "small quiet", "Allow site");
      allow.type = "button";
      allow.setAttribute("aria-label", "Allow " + site + " (turn filtering off there)");
      allow.addEventListener("click", () => allowSite(site));
      tools.appendChild(allow);
    }
    if (site && entry.action !== "allowed_site") {
      const bisect = el("button", "small quiet", "Bisect");
      bisect.type = "button";
      bisect.setAttribute("aria-label", "Bisect this site: find the rule that broke " + site);
      bisect.title = "Bisect this site: find the rule that broke a page of " + site;
      bisect.addEventListener("click", () => startBisect(site));
      tools.appendChild(bisect);
    }
    if (entry.exception) {
      const copy = el("button", "small quiet", "Copy exception");
      copy.type = "button";
      copy.setAttribute("aria-label", "Copy the exception rule " + entry.exception);
      copy.addEventListener("click", () => copyText(entry.exception));
      tools.appendChild(copy);
    }
    const why = el("a", "small", "Explain");
    const params = new URLSearchParams({ url: entry.url || "", type: entry.type || "" });
    if (entry.site && entry.site !== hostOf(entry.url)) params.set("source", "https://" + entry.site + "/");
    why.href = "#/explain?" + params.toString();
    tools.appendChild(why);
    row.appendChild(tools);
    return row;
  }

  async function allowSite(site) {
    const done = await call("POST", "/api/sites/allow", { site: site });
    if (done) toast(site + " is allowed: dejunk no longer filters it.", { label: "Undo", run: () => unallowSite(site) });
  }

  async function unallowSite(site) {
    const done = await call("POST", "/api/sites/unallow", { site: site });
    if (done) toast(typeof done.note === "string" ? done.note : "dejunk filters " + site + " again.");
    if (current === "/sites") refreshSites();
  }

  /** The clipboard API where the browser offers it (secure pages), else the text shown selected. */
  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        toast("Copied: " + text);
        return;
      } catch (e) { /* fall back below */ }
    }
    const box = $("copy-fallback");
    const input = $("copy-text");
    input.value = text;
    box.hidden = false;
    input.focus();
    input.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    if (copied) toast("Copied: " + text);
  }

  const logPoller = new Poller(pollLog, 2000);
  pages["/log"] = {
    enter() { logPoller.start(); },
    leave() { logPoller.stop(); },
  };

  // ---- sites -----------------------------------------------------------------------------

  // Sites turned off in this visit stay listed (switched off) so they can be turned back on.
  const sitesSeen = new Set();
  const POLICIES = [["connect", "Connections"], ["image", "Images"], ["cookie", "Cookies"]];

  async function refreshSites() {
    const data = await call("GET", "/api/sites");
    if (!data) return;
    const allowed = Array.isArray(data.allowed) ? data.allowed : [];
    for (const site of allowed) sitesSeen.add(site);
    const list = $("sites-allowed");
    clear(list);
    for (const site of Array.from(sitesSeen).sort()) list.appendChild(siteItem(site, allowed.includes(site)));
    $("sites-empty").hidden = sitesSeen.size > 0;
    const configured = Array.isArray(data.configured) ? data.configured : [];
    const configuredList = $("sites-configured");
    clear(configuredList);
    for (const site of configured) configuredList.appendChild(el("li", "mono", site));
    $("sites-configured-box").hidden = configured.length === 0;
    const rows = $("overrides-rows");
    clear(rows);
    const overrides = data.overrides || {};
    const sites = Object.keys(overrides).sort();
    for (const site of sites) rows.appendChild(overrideRow(site, overrides[site] || {}));
    $("overrides-empty").hidden = sites.length > 0;
    $("overrides-table").hidden = sites.length === 0;
  }

  function siteItem(site, on) {
    const item = el("li", "site");
    const id = "site-" + Array.from(site).map((c) => c.charCodeAt(0).toString(16)).join("");
    const toggle = el("input", "switch");
    toggle.type = "checkbox";
    toggle.id = id;
    toggle.setAttribute("role", "switch");
    toggle.checked = on;
    toggle.dataset.site = site;
    const label = el("label", "site-name mono", site);
    label.htmlFor = id;
    const state = el("span", "site-state muted", on ? "not filtered" : "filtered");
    toggle.addEventListener("change", async () => {
      toggle.disabled = true;
      const done = await call("POST", toggle.checked ? "/api/sites/allow" : "/api/sites/unallow", { site: site });
      toggle.disabled = false;
      if (!done) toggle.checked = !toggle.checked;
      else if (typeof done.note === "string") toast(done.note);
      state.textContent = toggle.checked ? "not filtered" : "filtered";
    });
    const remove = el("button", "small quiet", "Remove");
    remove.type = "button";
    remove.setAttribute("aria-label", "Remove " + site);
    remove.addEventListener("click", async () => {
      if (toggle.checked && !(await call("POST", "/api/sites/unallow", { site: site }))) return;
      sitesSeen.delete(site);
      refreshSites();
    });
    item.append(toggle, label, state, remove);
    return item;
  }

  function policySelect(name, value, label) {
    const select = el("select");
    select.setAttribute("aria-label", label);
    for (const [v, text] of [["", "default"], ["accept", "accept"], ["reject", "reject"]]) {
      const option = el("option", "", text);
      option.value = v;
      select.appendChild(option);
    }
    select.value = value === "accept" || value === "reject" ? value : "";
    select.name = name;
    return select;
  }

  function overrideRow(site, values) {
    const row = el("tr");
    const name = el("th", "mono", site);
    name.scope = "row";
    row.appendChild(name);
    for (const [policy, title] of POLICIES) {
      const cell = el("td");
      cell.dataset.label = title;
      const select = policySelect(policy, values[policy], title + " for " + site);
      select.addEventListener("change", async () => {
        const done = await call("POST", "/api/sites/override", { site: site, policy: policy, value: select.value || null });
        if (!done) select.value = values[policy] || "";
        else refreshSites();
      });
      cell.appendChild(select);
      row.appendChild(cell);
    }
    const cell = el("td");
    const remove = el("button", "small quiet", "Remove");
    remove.type = "button";
    remove.setAttribute("aria-label", "Remove the policies of " + site);
    remove.addEventListener("click", async () => {
      for (const [policy] of POLICIES) {
        if (values[policy] && !(await call("POST", "/api/sites/override", { site: site, policy: policy, value: null }))) break;
      }
      refreshSites();
    });
    cell.appendChild(remove);
    row.appendChild(cell);
    return row;
  }

  function cleanSite(text) {
    text = text.trim();
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = hostOf(text) || text;
    return text.replace(/\/.*$/, "").toLowerCase();
  }

  pages["/sites"] = { enter() { refreshSites(); } };

  // ---- lists -----------------------------------------------------------------------------

  async function refreshLists() {
    const data = await call("GET", "/api/lists");
    if (!data) return;
    const box = $("lists");
    clear(box);
    const lists = Array.isArray(data.lists) ? data.lists : [];
    if (!lists.length) box.appendChild(el("p", "muted", "No list is loaded."));
    for (const list of lists) box.appendChild(listCard(list));
    const button = $("lists-update");
    button.disabled = !!data.updating;
    $("lists-state").textContent = data.updating ? "Updating lists…" : "";
    if (data.updating) listsPoller.due = true;
  }

  function fact(dl, term, value, className) {
    if (value === null || value === undefined || value === "") return;
    dl.appendChild(el("dt", "", term));
    const dd = el("dd", className || "");
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
    dl.appendChild(dd);
  }

  function listCard(list) {
    const card = el("article", "card list" + (list.last_error ? " has-error" : ""));
    const head = el("div", "card-head");
    head.appendChild(el("h2", "", list.title || list.name || list.url || "list"));
    if (list.removable && list.url) {
      const remove = el("button", "small quiet", "Remove");
      remove.type = "button";
      remove.setAttribute("aria-label", "Remove the list " + (list.name || list.url));
      remove.addEventListener("click", async () => {
        if (await call("POST", "/api/lists/remove", { url: list.url })) { toast("List removed."); refreshLists(); }
      });
      head.appendChild(remove);
    }
    card.appendChild(head);
    const numbers = el("p", "list-numbers");
    numbers.appendChild(el("strong", "", count(list.rules)));
    numbers.appendChild(document.createTextNode((Number(list.rules) === 1 ? " rule: " : " rules: ") +
      count(list.network) + " network, " + count(list.cosmetic) + " cosmetic, " + count(list.hosts) + " hosts"));
    card.appendChild(numbers);
    if (list.last_error) card.appendChild(el("p", "list-error", "Last error: " + list.last_error));
    const dl = el("dl", "facts");
    if (list.title && list.name !== list.title) fact(dl, "File", list.name, "mono");
    fact(dl, "Source", list.source);
    if (list.url && list.url !== list.source) fact(dl, "URL", list.url, "mono");
    fact(dl, "Version", list.version);
    fact(dl, "Last update", list.last_update ? timeText(list.last_update, true) + " (" + ago(list.last_update) + ")" : "never");
    fact(dl, "Next update", list.next_due ? timeText(list.next_due, true) + " (" + ago(list.next_due) + ")" : null);
    const skipped = Object.entries(list.skipped || {});
    if (skipped.length) {
      const ul = el("ul", "skipped");
      for (const [reason, n] of skipped.sort((a, b) => b[1] - a[1])) ul.appendChild(el("li", "", count(n) + " " + reason));
      fact(dl, "Skipped lines", ul);
    }
    card.appendChild(dl);
    return card;
  }

  const listsPoller = new Poller(async () => {
    if (listsPoller.due) { listsPoller.due = false; await refreshLists(); }
  }, 3000);

  pages["/lists"] = {
    enter() { refreshLists(); listsPoller.start(); },
    leave() { listsPoller.stop(); },
  };

  // ---- my filters ------------------------------------------------------------------------

  const myFilters = { saved: null };

  async function loadMyFilters() {
    const data = await call("GET", "/api/myfilters");
    if (!data) return;
    const text = $("mf-text");
    if (myFilters.saved === null || text.value === myFilters.saved) text.value = data.text || "";
    myFilters.saved = data.text || "";
    // Read-only until the file is shown: text typed before would be overwritten by it.
    text.readOnly = false;
    $("mf-path").textContent = data.path ? "File: " + data.path : "";
    markDirty();
  }

  function markDirty() {
    const dirty = myFilters.saved !== null && $("mf-text").value !== myFilters.saved;
    $("mf-save").classList.toggle("primary", dirty);
    if (dirty) $("mf-state").textContent = "Unsaved changes.";
  }

  function selectLine(textarea, number) {
    const lines = textarea.value.split("\n");
    let start = 0;
    for (let i = 0; i < number - 1 && i < lines.length; i++) start += lines[i].length + 1;
    const end = start + (lines[number - 1] || "").length;
    textarea.focus();
    textarea.setSelectionRange(start, end);
    const lineHeight = textarea.scrollHeight / Math.max(lines.length, 1);
    textarea.scrollTop = Math.max(0, (number - 3) * lineHeight);
  }

  async function saveMyFilters(event) {
    event.preventDefault();
    const textarea = $("mf-text");
    const text = textarea.value;
    $("mf-state").textContent = "Saving…";
    const data = await call("PUT", "/api/myfilters", { text: text });
    const list = $("mf-errors");
    clear(list);
    if (!data) { $("mf-state").textContent = "Not saved."; return; }
    myFilters.saved = text;
    markDirty();
    const errors = Array.isArray(data.errors) ? data.errors : [];
    $("mf-state").textContent = "Saved: " + plural(data.rules, "rule") + " in use" +
      (errors.length ? ", " + plural(errors.length, "line") + " with errors." : ".");
    for (const error of errors) {
      const item = el("li", "error-line");
      const jump = el("button", "link", "Line " + error.line);
      jump.type = "button";
      jump.addEventListener("click", () => selectLine(textarea, Number(error.line) || 1));
      item.appendChild(jump);
      item.appendChild(el("span", "", ": " + error.message));
      list.appendChild(item);
    }
  }

  pages["/myfilters"] = { enter(params, changed) { if (changed) loadMyFilters(); } };

  // ---- explain ---------------------------------------------------------------------------

  async function explain() {
    const url = $("ex-url").value.trim();
    if (!url) return;
    const params = new URLSearchParams({ url: url, type: $("ex-type").value, source: $("ex-source").value.trim() });
    const data = await call("GET", "/api/explain?" + params.toString());
    const box = $("ex-result");
    if (!data) { box.hidden = true; return; }
    const action = $("ex-action");
    const name = String(data.action || "");
    action.className = "badge act-" + name.replace(/[^a-z_]/g, "");
    action.textContent = ACTION_NAMES[name] || name || "?";
    $("ex-text").textContent = data.text || "";
    $("ex-rule").textContent = data.rule || "none";
    $("ex-where").textContent = data.list ? data.list + (data.line ? ", line " + data.line : "") : "–";
    const exception = data.exception;
    $("ex-exception").textContent = exception && exception.rule
      ? exception.rule + (exception.list ? " (" + exception.list + (exception.line ? ":" + exception.line : "") + ")" : "")
      : "none";
    $("ex-redirect").textContent = data.redirect || "none";
    box.hidden = false;
  }

  pages["/explain"] = {
    enter(params) {
      if (params.has("url")) {
        $("ex-url").value = params.get("url");
        $("ex-type").value = params.get("type") || "";
        if ($("ex-type").value !== (params.get("type") || "")) $("ex-type").value = "";
        $("ex-source").value = params.get("source") || "";
        explain();
      }
    },
  };

  // ---- bisect ----------------------------------------------------------------------------

  const bisect = { state: null, busy: false };

  /** What the user does next, in the dashboard's words (the message says it as the commands do). */
  function bisectNext(state) {
    const site = state.site || "the site";
    if (state.phase === "collecting") {
      return Number(state.fired) > 0
        ? "Reload the broken page on " + site + " now, with every rule on, then say Good or Bad."
        : "Reload the broken page on " + site + " now (through this proxy), then say Good or Bad.";
    }
    if (state.phase === "searching") {
      return "Step " + state.step + ": some rules are off on " + site + ". Reload the page, then say Good or Bad.";
    }
    if (state.phase === "stopped") return "Stopped: every rule applies to " + site + " again.";
    const result = state.result || {};
    if (result.status === "holds") return site + " works with every rule: there is no rule to find.";
    if (result.status === "not_filtering") return site + " is broken even with the rules off: filtering is not the cause.";
    const culprits = Array.isArray(result.culprits) ? result.culprits : [];
    if (!culprits.length) return "Over: no culprit named.";
    return culprits.length > 1 ? "Found: these rules break the page together." : "Found: this rule breaks the page.";
  }

  function renderBisect(state) {
    bisect.state = state;
    const running = !!state.active;
    $("bi-idle").hidden = state.phase !== "idle";
    $("bi-run").hidden = state.phase === "idle";
    $("bi-title").textContent = state.site ? "Bisecting " + state.site : "";
    const phase = $("bi-phase");
    phase.className = "badge phase-" + String(state.phase || "").replace(/[^a-z]/g, "");
    phase.textContent = { collecting: "first look", searching: "step " + state.step, done: "over", stopped: "stopped" }[state.phase] || "";
    const next = bisectNext(state);
    if ($("bi-next").textContent !== next) $("bi-next").textContent = next;
    $("bi-message").textContent = state.message ? "dejunk: " + state.message : "";
    $("bi-answer").hidden = !running;
    for (const id of ["bi-good", "bi-bad", "bi-stop"]) $(id).disabled = bisect.busy;
    const result = state.result;
    const culprits = result && Array.isArray(result.culprits) ? result.culprits : [];
    const box = $("bi-result");
    box.hidden = culprits.length === 0;
    if (!culprits.length) return;
    $("bi-result-title").textContent = culprits.length > 1 ? "Culprits (together)" : "Culprit";
    const list = $("bi-culprits");
    clear(list);
    for (const culprit of culprits) {
      const item = el("li", "culprit");
      item.appendChild(el("code", "rule", culprit.rule));
      item.appendChild(el("span", "where", (culprit.list || "?") + (culprit.line ? ":" + culprit.line : "")));
      const exception = el("span", "exception", "Exception for " + (state.site || "the site") + ": ");
      exception.appendChild(el("code", "", culprit.exception));
      item.appendChild(exception);
      list.appendChild(item);
    }
    const applied = Array.isArray(state.applied);
    const button = $("bi-apply");
    button.disabled = applied || bisect.busy;
    button.textContent = applied ? "Added to my filters" : "Add to my filters";
    $("bi-applied").textContent = applied ? "In force now: reload the page to see it whole." : "";
  }

  async function refreshBisect() {
    const data = await call("GET", "/api/bisect");
    if (data) renderBisect(data);
  }

  /** A change (start, answer, stop, apply): one at a time, the buttons off meanwhile. */
  async function bisectChange(path, body) {
    if (bisect.busy) return null;
    bisect.busy = true;
    if (bisect.state) renderBisect(bisect.state);
    let data;
    try {
      data = await call("POST", path, body || {});
    } finally {
      bisect.busy = false;
    }
    const wasActive = !!(bisect.state && bisect.state.active);
    if (data) renderBisect(data); else if (bisect.state) renderBisect(bisect.state);
    if (data && !!data.active !== wasActive) refreshStatus();  // the banner says while one runs
    return data;
  }

  async function startBisect(site) {
    site = cleanSite(site);
    if (!site) return;
    const data = await bisectChange("/api/bisect/start", { site: site });
    if (!data) return;
    if (location.hash !== "#/bisect") {
      location.hash = "#/bisect";
      route();  // now, so that the instruction can take the focus (hashchange comes later)
    }
    $("bi-next").focus();
  }

  const bisectPoller = new Poller(refreshBisect, 2000);  // commands (dejunk.bisect.*) change it too
  pages["/bisect"] = {
    enter(params) {
      if (params.has("site")) $("bi-site").value = params.get("site");
      bisectPoller.start();
    },
    leave() { bisectPoller.stop(); },
  };

  // ---- wiring ----------------------------------------------------------------------------

  function wire() {
    for (const radio of document.querySelectorAll('input[name="range"]')) {
      radio.addEventListener("change", () => refreshOverview());
    }
    let resizeTimer = 0;
    window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(drawChart, 150); });

    $("log-filter").addEventListener("input", renderLog);
    $("log-action").addEventListener("change", renderLog);
    $("log-pause").addEventListener("click", () => {
      log.paused = !log.paused;
      const button = $("log-pause");
      button.setAttribute("aria-pressed", String(log.paused));
      button.textContent = log.paused ? "Resume" : "Pause";
      renderLog();
      if (!log.paused) logPoller.start();
    });
    $("log-clear").addEventListener("click", () => { log.entries = []; renderLog(); });
    $("copy-close").addEventListener("click", () => { $("copy-fallback").hidden = true; });

    $("site-add").addEventListener("submit", async (event) => {
      event.preventDefault();
      const site = cleanSite($("site-add-name").value);
      if (!site) return;
      if (await call("POST", "/api/sites/allow", { site: site })) {
        $("site-add-name").value = "";
        toast(site + " is allowed.");
        refreshSites();
      }
    });
    $("override-add").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      const site = cleanSite($("override-site").value);
      if (!site) return;
      let any = false;
      for (const [policy] of POLICIES) {
        const value = form.elements[policy].value;
        if (!value) continue;
        any = true;
        if (!(await call("POST", "/api/sites/override", { site: site, policy: policy, value: value }))) return;
      }
      if (!any) { toast("Choose accept or reject for at least one policy."); return; }
      form.reset();
      refreshSites();
    });

    $("lists-update").addEventListener("click", async () => {
      $("lists-update").disabled = true;
      if (await call("POST", "/api/lists/update", {})) {
        $("lists-state").textContent = "Updating lists…";
        listsPoller.due = true;
      } else {
        $("lists-update").disabled = false;
      }
    });
    $("list-add").addEventListener("submit", async (event) => {
      event.preventDefault();
      const url = $("list-add-url").value.trim();
      if (!url) return;
      if (await call("POST", "/api/lists/add", { url: url })) {
        $("list-add-url").value = "";
        toast("List added; it loads with the next update.");
        refreshLists();
      }
    });

    $("mf-form").addEventListener("submit", saveMyFilters);
    $("mf-text").addEventListener("input", markDirty);
    $("mf-text").addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key === "s") { event.preventDefault(); $("mf-form").requestSubmit(); }
    });

    $("ex-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const params = new URLSearchParams({ url: $("ex-url").value.trim(), type: $("ex-type").value, source: $("ex-source").value.trim() });
      const target = "#/explain?" + params.toString();
      if (location.hash !== target) location.hash = target; else explain();
    });

    $("bi-form").addEventListener("submit", (event) => {
      event.preventDefault();
      startBisect($("bi-site").value);
    });
    $("bi-good").addEventListener("click", () => bisectChange("/api/bisect/good"));
    $("bi-bad").addEventListener("click", () => bisectChange("/api/bisect/bad"));
    $("bi-stop").addEventListener("click", () => bisectChange("/api/bisect/stop"));
    $("bi-apply").addEventListener("click", async () => {
      const data = await bisectChange("/api/bisect/apply");
      if (data) toast(Array.isArray(data.added) && data.added.length ? "Added to my filters: " + data.added.join("  ") : "Already in my filters.");
    });

    window.addEventListener("hashchange", route);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshStatus(); });
  }

  wire();
  route();
  refreshStatus();
  setInterval(() => { if (!document.hidden) refreshStatus(); }, 15000);
})();
