// dejunk's page runtime: applies a page's procedural cosmetic rules to the live DOM, and again whenever the
// page changes. The input is filters/cosmetic/live.py's description: {"rules": [[css, steps, action], ...]}.
// Matches are hidden (a marker attribute plus `display: none !important` set through the CSSOM, which a
// Content-Security-Policy allows), removed, restyled (`:style()`), or have attributes or classes taken away. Re-evaluation is
// batched and spaced out, so a page that changes all the time costs a bounded share of its time.
(function (config) {
  "use strict";
  var doc = document;
  var FLAG = "__dejunkLiveRuntime";
  if (!doc || !window.MutationObserver || window[FLAG]) {
    return;
  }
  Object.defineProperty(window, FLAG, { value: true });
  var MARK = "data-dejunk-hidden";
  var NOT_RENDERED = { SCRIPT: 1, STYLE: 1, LINK: 1, META: 1, BASE: 1, TITLE: 1, TEMPLATE: 1, HEAD: 1, NOSCRIPT: 1 };
  var MIN_GAP_MS = 50;
  var rules = (config && config.rules) || [];
  var broken = [];  // rules the browser refused once (a selector it does not know): not tried again
  var hidden = new Map();  // element hidden here -> its inline display value and priority before
  var regexes = new Map();

  function regex(test) {
    var key = test[2] + "/" + test[1];
    if (!regexes.has(key)) {
      var compiled = null;
      try {
        compiled = new RegExp(test[1], test[2]);
      } catch (error) {
        compiled = null;
      }
      regexes.set(key, compiled);
    }
    return regexes.get(key);
  }

  // A test is ["s", text] or ["r", source, flags]; a text test equals the value (exact) or is in it.
  function accepts(test, value, exact) {
    if (test[0] === "s") {
      return exact ? value === test[1] : value.indexOf(test[1]) !== -1;
    }
    var pattern = regex(test);
    return pattern !== null && pattern.test(value);
  }

  function unique(nodes) {
    var seen = new Set();
    var result = [];
    for (var i = 0; i !== nodes.length; i += 1) {
      var node = nodes[i];
      if (node && node.nodeType === 1 && !seen.has(node)) {
        seen.add(node);
        result.push(node);
      }
    }
    return result;
  }

  function each(nodes, produce) {
    var result = [];
    for (var i = 0; i !== nodes.length; i += 1) {
      var found = produce(nodes[i]);
      for (var j = 0; j !== found.length; j += 1) {
        result.push(found[j]);
      }
    }
    return unique(result);
  }

  function keep(nodes, test) {
    return nodes.filter(test);
  }

  function ancestor(node, count) {
    for (var i = 0; i !== count && node; i += 1) {
      node = node.parentElement;
    }
    return node;
  }

  // What `:scope + css` or `:scope ~ css` selects from a node (querySelectorAll only looks below a node).
  function siblings(node, combinator, css) {
    var parent = node.parentElement;
    if (!parent) {
      return [];
    }
    var position = 1;
    for (var before = node.previousElementSibling; before; before = before.previousElementSibling) {
      position += 1;
    }
    return parent.querySelectorAll(":scope > :nth-child(" + position + ") " + combinator + " " + css);
  }

  function xpath(expression, context) {
    var result = doc.evaluate(expression, context, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
    var found = [];
    for (var i = 0; i !== result.snapshotLength; i += 1) {
      found.push(result.snapshotItem(i));
    }
    return found;
  }

  function hasAttribute(node, nameTest, valueTest) {
    var names = node.getAttributeNames();
    for (var i = 0; i !== names.length; i += 1) {
      if (accepts(nameTest, names[i], true)) {
        if (valueTest === null || accepts(valueTest, node.getAttribute(names[i]) || "", true)) {
          return true;
        }
      }
    }
    return false;
  }

  function computedStyleMatches(node, pseudo, property, test) {
    var style = window.getComputedStyle(node, pseudo || null);
    return style !== null && accepts(test, style.getPropertyValue(property), true);
  }

  // uBO's `:others()`: the siblings of every match and of each of its ancestors below <body>.
  function others(nodes) {
    var kept = new Set();
    var chains = [];
    nodes.forEach(function (node) {
      var chain = [];
      while (node && node !== doc.body && node !== doc.documentElement) {
        kept.add(node);
        chain.push(node);
        node = node.parentElement;
      }
      chains.push(chain);
    });
    var found = [];
    chains.forEach(function (chain) {
      chain.forEach(function (node) {
        var parent = node.parentElement;
        for (var child = parent ? parent.firstElementChild : null; child; child = child.nextElementSibling) {
          if (!kept.has(child) && !NOT_RENDERED[child.tagName]) {
            found.push(child);
          }
        }
      });
    });
    return unique(found);
  }

  // A procedural `:has()` (expected true) or `:not()` (expected false): does the nested selector find anything?
  function finds(node, prime, css, steps) {
    var found;
    if (prime === "self") {
      found = node.matches(css) ? [node] : [];
    } else if (prime === "select") {
      found = Array.prototype.slice.call(node.querySelectorAll(css));
    } else {
      found = Array.prototype.slice.call(siblings(node, prime, css));
    }
    return run(steps, found).length !== 0;
  }

  function step(task, nodes) {
    switch (task[0]) {
      case "text":
        return keep(nodes, function (node) { return accepts(task[1], node.textContent || "", false); });
      case "min_text":
        return keep(nodes, function (node) { return (node.textContent || "").length >= task[1]; });
      case "upward":
        return unique(nodes.map(function (node) { return ancestor(node, task[1]); }));
      case "upward_css":
        return unique(nodes.map(function (node) { return node.parentElement ? node.parentElement.closest(task[1]) : null; }));
      case "select":
        return each(nodes, function (node) { return node.querySelectorAll(task[1]); });
      case "filter":
        return keep(nodes, function (node) { return node.matches(task[1]); });
      case "siblings":
        return each(nodes, function (node) { return siblings(node, task[1], task[2]); });
      case "xpath":
        return each(nodes, function (node) { return xpath(task[1], node); });
      case "xpath_root":
        return unique(xpath(task[1], doc));
      case "attr":
        return keep(nodes, function (node) { return hasAttribute(node, task[1], task[2]); });
      case "css":
        return keep(nodes, function (node) { return computedStyleMatches(node, task[1], task[2], task[3]); });
      case "others":
        return others(nodes);
      case "if":
        return keep(nodes, function (node) { return finds(node, task[1], task[2], task[3]) === task[4]; });
      case "watch":
        return nodes;
      default:
        throw new Error("dejunk: unknown step " + task[0]);
    }
  }

  function run(steps, nodes) {
    for (var i = 0; i !== steps.length && nodes.length !== 0; i += 1) {
      nodes = step(steps[i], nodes);
    }
    return nodes;
  }

  function select(rule) {
    var css = rule[0];
    var start = css === "" ? [doc.documentElement] : Array.prototype.slice.call(doc.querySelectorAll(css));
    return run(rule[1], start);
  }

  // --- actions ---------------------------------------------------------------------------------------

  var guard = new MutationObserver(function (records) {
    // The page set its own style on an element hidden here: hide it again.
    records.forEach(function (record) {
      if (hidden.has(record.target)) {
        applyHide(record.target);
      }
    });
  });

  function applyHide(node) {
    if (!node.hasAttribute(MARK)) {
      node.setAttribute(MARK, "");
    }
    if (node.style.getPropertyValue("display") !== "none" || node.style.getPropertyPriority("display") !== "important") {
      node.style.setProperty("display", "none", "important");
    }
  }

  function hide(node, shown) {
    shown.add(node);
    if (hidden.has(node)) {
      applyHide(node);
      return;
    }
    if (node.hasAttribute(MARK) || node === doc.documentElement || node === doc.body || node === doc.head) {
      return;  // hidden by the proxy already, or the page itself
    }
    hidden.set(node, [node.style.getPropertyValue("display"), node.style.getPropertyPriority("display")]);
    applyHide(node);
    guard.observe(node, { attributes: true, attributeFilter: ["style", MARK] });
  }

  function unhide(node) {
    var before = hidden.get(node);
    hidden.delete(node);
    node.removeAttribute(MARK);
    if (before[0]) {
      node.style.setProperty("display", before[0], before[1]);
    } else {
      node.style.removeProperty("display");
    }
  }

  // `:style()`: the declarations, each !important, through the CSSOM (which a Content-Security-Policy allows).
  function restyle(node, declarations) {
    declarations.forEach(function (pair) {
      if (node.style.getPropertyValue(pair[0]) !== pair[1] || node.style.getPropertyPriority(pair[0]) !== "important") {
        node.style.setProperty(pair[0], pair[1], "important");
      }
    });
  }

  function edit(node, action) {
    var test = action[1];
    if (action[0] === "attr") {
      node.getAttributeNames().forEach(function (name) {
        if (accepts(test, name, true)) {
          node.removeAttribute(name);
        }
      });
    } else {
      Array.prototype.slice.call(node.classList).forEach(function (name) {
        if (accepts(test, name, true)) {
          node.classList.remove(name);
        }
      });
    }
  }

  function apply() {
    var selected = new Set();
    for (var i = 0; i !== rules.length; i += 1) {
      if (broken[i]) {
        continue;
      }
      var rule = rules[i];
      var nodes;
      try {
        nodes = select(rule);
      } catch (error) {
        broken[i] = true;  // one rule the browser cannot run costs only itself
        continue;
      }
      var action = rule[2];
      nodes.forEach(function (node) {
        if (action === "hide") {
          hide(node, selected);
        } else if (action === "remove") {
          if (node !== doc.documentElement && node !== doc.body && node !== doc.head) {
            node.remove();
          }
        } else if (action[0] === "style") {
          restyle(node, action[1]);
        } else {
          edit(node, action);
        }
      });
    }
    // What no rule selects any longer (its text or attributes changed) is shown again.
    hidden.forEach(function (_, node) {
      if (!selected.has(node)) {
        unhide(node);
      }
    });
  }

  // --- scheduling --------------------------------------------------------------------------------------

  var timer = null;
  var gap = MIN_GAP_MS;
  var last = 0;

  function pass() {
    timer = null;
    var started = Date.now();
    try {
      apply();
    } finally {
      last = Date.now();
      // A pass that took long spaces out the next ones: at most about a fifth of the page's time goes here.
      gap = Math.max(MIN_GAP_MS, 4 * (last - started));
    }
  }

  function schedule() {
    if (timer !== null) {
      return;
    }
    timer = setTimeout(pass, Math.max(0, last + gap - Date.now()));
  }

  var watched = [];
  var everyAttribute = false;
  rules.forEach(function walk(rule) {
    (rule[1] || []).forEach(function (task) {
      if (task[0] === "watch") {
        if (task[1].length === 0) {
          everyAttribute = true;
        }
        task[1].forEach(function (name) {
          if (watched.indexOf(name) === -1) {
            watched.push(name);
          }
        });
      } else if (task[0] === "if") {
        walk([null, task[3]]);
      }
    });
  });
  var options = { childList: true, subtree: true };
  if (everyAttribute) {
    options.attributes = true;
  } else if (watched.length !== 0) {
    options.attributes = true;
    options.attributeFilter = watched;
  }
  new MutationObserver(schedule).observe(doc, options);
  doc.addEventListener("DOMContentLoaded", schedule);
  window.addEventListener("load", schedule);
  pass();
})
