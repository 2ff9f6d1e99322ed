// Object pruning (json-prune's paths) and uBO-flavoured JSON path queries (json-edit), as `dj.json`.
dj.json = (function () {
  var native = dj.native;
  var hasOwn = Object.prototype.hasOwnProperty;
  var keysOf = Object.keys;
  var isArray = Array.isArray;
  var split = String.prototype.split;

  function own(object, key) { return native.apply(hasOwn, object, [key]); }
  function isObject(value) { return typeof value === 'object' && value !== null; }

  // json-prune's paths: dot-separated property names where `*`, `[]` and `{}` stand for every
  // property (array items, object values), `[-]` removes the array items (and `{-}` the object
  // properties) under which the rest of the path is found. With `remove`, the path's last
  // property is deleted wherever it exists (`*` last: every property). Returns whether the path
  // was found (and so removed).
  function walk(owner, path, remove) {
    for (;;) {
      if (!isObject(owner)) { return false; }
      var dot = path.indexOf('.');
      if (dot === -1) {
        if (!remove) { return path === '*' ? keysOf(owner).length !== 0 : own(owner, path); }
        if (path === '*') {
          var all = keysOf(owner);
          for (var k = 0; k < all.length; k++) { delete owner[all[k]]; }
          return all.length !== 0;
        }
        if (!own(owner, path)) { return false; }
        delete owner[path];
        return true;
      }
      var step = path.slice(0, dot);
      var rest = path.slice(dot + 1);
      var found = false;
      var keys, i;
      if (step === '[-]' && isArray(owner)) {
        for (i = owner.length - 1; i >= 0; i--) {
          if (walk(owner[i], rest, false)) { owner.splice(i, 1); found = true; }
        }
        return found;
      }
      if (step === '{-}') {
        keys = keysOf(owner);
        for (i = 0; i < keys.length; i++) {
          if (walk(owner[keys[i]], rest, false)) { delete owner[keys[i]]; found = true; }
        }
        return found;
      }
      if ((step === '[]' && isArray(owner)) || step === '{}' || step === '*') {
        keys = keysOf(owner);
        for (i = 0; i < keys.length; i++) {
          if (walk(owner[keys[i]], rest, remove)) { found = true; }
        }
        return found;
      }
      if (!own(owner, step)) { return false; }
      owner = owner[step];
      path = rest;
    }
  }

  function paths(text) {
    if (text === undefined || text === '') { return []; }
    var out = native.apply(split, native.String(text), [/ +/]);
    return out.filter(function (p) { return p !== ''; });
  }

  // A pruner for space-separated `prunePaths`, applied only when every one of `needlePaths` is
  // found. `pruner(obj)` removes in place and returns whether anything was removed.
  function pruner(prunePaths, needlePaths) {
    var prune = paths(prunePaths);
    var needles = prune.length === 0 ? [] : paths(needlePaths);
    return function (obj) {
      if (prune.length === 0 || !isObject(obj)) { return false; }
      for (var i = 0; i < needles.length; i++) {
        if (!walk(obj, needles[i], false)) { return false; }
      }
      var removed = false;
      for (var j = 0; j < prune.length; j++) {
        if (walk(obj, prune[j], true)) { removed = true; }
      }
      return removed;
    };
  }

  // --- uBO-flavoured JSON path -------------------------------------------------------------------
  // `.a.b`, `..a` (any depth), `*`, `[2]`, `[-1]`, `['a','b']`, `./regex/`, and one filter
  // `[?expr]` / `[?(expr)]` / `[?!expr]` whose expr is a relative path, alone (exists) or compared
  // to a JSON value with == != < <= > >= ^= $= *= or =/regex/. A query ending in `=JSON` assigns;
  // without it, every node it finds is removed.
  var CHILD = 1;
  var DESCENDANT = 2;

  function Query(text) {
    this.valid = false;
    this.hasValue = false;
    this.value = undefined;
    var parsed = parsePath(text, 0, false);
    if (!parsed) { return; }
    var at = parsed.end;
    if (at < text.length) {
      if (text.charAt(at) !== '=') { return; }
      try { this.value = native.JSON_parse(text.slice(at + 1)); } catch (e) { return; }
      this.hasValue = true;
    }
    this.steps = parsed.steps;
    this.valid = true;
  }

  var IDENT = /^(?:[A-Za-z_$][\w$-]*|\*)/;

  // Steps from `text` at `at` up to the end, a `]` (inside a filter) or a top-level `=`.
  function parsePath(text, at, inFilter) {
    var steps = [];
    if (text.charAt(at) === '$' || text.charAt(at) === '@') { at += 1; }
    for (;;) {
      if (at >= text.length) { break; }
      var c = text.charAt(at);
      if (c === ' ') { at += 1; continue; }
      var move = 0;
      if (c === '.') {
        if (text.charAt(at + 1) === '.') { move = DESCENDANT; at += 2; } else { move = CHILD; at += 1; }
        c = text.charAt(at);
      }
      if (c === '[') {
        var bracket = parseBracket(text, at);
        if (!bracket) { return null; }
        bracket.step.move = move === DESCENDANT ? DESCENDANT : CHILD;
        steps.push(bracket.step);
        at = bracket.end;
        continue;
      }
      if (move === 0) { break; }  // `=`, a comparison or `]`: the caller reads on from here
      if (c === '/') {
        var close = text.indexOf('/', at + 1);
        var flags = /^[a-z]*/.exec(text.slice(close + 1))[0];
        if (close === -1) { return null; }
        var re;
        try { re = new native.RegExp(text.slice(at + 1, close), flags); } catch (e) { return null; }
        steps.push({ move: move, regex: re });
        at = close + 1 + flags.length;
        continue;
      }
      var name = IDENT.exec(text.slice(at));
      if (!name) { return null; }
      steps.push({ move: move, key: name[0] });
      at += name[0].length;
    }
    if (steps.length === 0 && !inFilter) { return null; }
    return { steps: steps, end: at };
  }

  var COMPARE = /^\s*(==|!=|<=|>=|\^=|\$=|\*=|<|>|=(?=\/))\s*/;

  function parseBracket(text, at) {
    if (text.charAt(at + 1) === '?') {
      var i = at + 2;
      var not = false;
      if (text.charAt(i) === '!') { not = true; i += 1; }
      var paren = text.charAt(i) === '(';
      if (paren) { i += 1; }
      var inner = parsePath(text, i, true);
      if (!inner) { return null; }
      i = inner.end;
      var filter = { steps: inner.steps, not: not };
      var op = COMPARE.exec(text.slice(i));
      if (op) {
        i += op[0].length;
        var endAt = text.indexOf(paren ? ')]' : ']', i);
        if (endAt === -1) { return null; }
        var operand = text.slice(i, endAt).replace(/\s+$/, '');
        filter.op = op[1];
        if (filter.op === '=') {
          var m = /^\/(.*)\/([a-z]*)$/.exec(operand);
          if (!m) { return null; }
          try { filter.regex = new native.RegExp(m[1], m[2]); } catch (e) { return null; }
        } else {
          try { filter.operand = native.JSON_parse(operand); } catch (e) { return null; }
        }
        i = endAt;
      }
      if (paren) { if (text.charAt(i) !== ')') { return null; } i += 1; }
      if (text.charAt(i) !== ']') { return null; }
      return { step: { filter: filter }, end: i + 1 };
    }
    var close = text.indexOf(']', at);
    if (close === -1) { return null; }
    var body = text.slice(at + 1, close).trim();
    if (body === '*') { return { step: { key: '*' }, end: close + 1 }; }
    if (/^-?\d+$/.test(body)) { return { step: { index: native.Number(body) }, end: close + 1 }; }
    var names = [];
    var parts = body.split(',');
    for (var p = 0; p < parts.length; p++) {
      var item = parts[p].trim();
      var quoted = /^'(.*)'$|^"(.*)"$/.exec(item);
      if (quoted) { names.push(quoted[1] !== undefined ? quoted[1] : quoted[2]); continue; }
      if (/^-?\d+$/.test(item)) { names.push(native.Number(item)); continue; }
      return null;
    }
    return { step: { names: names }, end: close + 1 };
  }

  // Keys of `owner` a step names (array indices as numbers).
  function stepKeys(owner, step) {
    if (!isObject(owner)) { return []; }
    var out = [];
    var i;
    if (step.key === '*') {
      if (isArray(owner)) { for (i = 0; i < owner.length; i++) { out.push(i); } } else { out = keysOf(owner); }
      return out;
    }
    if (step.regex) {
      var keys = keysOf(owner);
      for (i = 0; i < keys.length; i++) { if (step.regex.test(keys[i])) { out.push(keys[i]); } }
      return out;
    }
    var wanted = step.names || [step.index !== undefined ? step.index : step.key];
    for (i = 0; i < wanted.length; i++) {
      var key = wanted[i];
      if (typeof key === 'number') {
        if (!isArray(owner)) { continue; }
        if (key < 0) { key = owner.length + key; }
        if (key >= 0 && key < owner.length) { out.push(key); }
      } else if (own(owner, key)) {
        out.push(key);
      }
    }
    return out;
  }

  function compare(value, filter) {
    if (filter.op === undefined) { return true; }
    var text = typeof value === 'string' ? value : native.JSON_stringify(value);
    var operand = filter.operand;
    var operandText = typeof operand === 'string' ? operand : native.JSON_stringify(operand);
    switch (filter.op) {
      case '==': return value === operand;
      case '!=': return value !== operand;
      case '<': return value < operand;
      case '<=': return value <= operand;
      case '>': return value > operand;
      case '>=': return value >= operand;
      case '^=': return typeof text === 'string' && text.indexOf(operandText) === 0;
      case '$=': return typeof text === 'string' && text.length >= operandText.length &&
        text.slice(text.length - operandText.length) === operandText;
      case '*=': return typeof text === 'string' && text.indexOf(operandText) !== -1;
      case '=': return typeof text === 'string' && filter.regex.test(text);
    }
    return false;
  }

  // Does the filter hold for `node`? (Its path is found from the node and its value compares.)
  function holds(node, filter) {
    var found = resolve([{ parent: null, key: null, value: node }], filter.steps);
    var ok = false;
    for (var i = 0; i < found.length && !ok; i++) { ok = compare(found[i].value, filter); }
    return ok !== filter.not;
  }

  // Every value under `value` (not itself), each as {parent, key, value}.
  function descendants(value, out) {
    if (!isObject(value)) { return out; }
    var keys = isArray(value) ? null : keysOf(value);
    var count = keys ? keys.length : value.length;
    for (var i = 0; i < count; i++) {
      var key = keys ? keys[i] : i;
      var child = value[key];
      out.push({ parent: value, key: key, value: child });
      descendants(child, out);
    }
    return out;
  }

  function resolve(nodes, steps) {
    for (var s = 0; s < steps.length; s++) {
      var step = steps[s];
      var next = [];
      for (var n = 0; n < nodes.length; n++) {
        var node = nodes[n];
        var scope = step.move === DESCENDANT ? [node].concat(descendants(node.value, [])) : [node];
        for (var c = 0; c < scope.length; c++) {
          var owner = scope[c];
          if (step.filter) {
            // On an array a filter picks its items; on an object, the object itself.
            if (isArray(owner.value)) {
              for (var k = 0; k < owner.value.length; k++) {
                if (holds(owner.value[k], step.filter)) { next.push({ parent: owner.value, key: k, value: owner.value[k] }); }
              }
            } else if (isObject(owner.value) && holds(owner.value, step.filter)) {
              next.push(owner);
            }
            continue;
          }
          var keys = stepKeys(owner.value, step);
          for (var j = 0; j < keys.length; j++) {
            next.push({ parent: owner.value, key: keys[j], value: owner.value[keys[j]] });
          }
        }
      }
      nodes = next;
    }
    return nodes;
  }

  // Applies the query to `root` in place; returns whether it found anything (and so changed it).
  Query.prototype.apply = function (root) {
    if (!this.valid || !isObject(root)) { return false; }
    var found = resolve([{ parent: null, key: null, value: root }], this.steps);
    var changed = false;
    // Last first, so that removing array items does not shift the ones still to remove.
    for (var i = found.length - 1; i >= 0; i--) {
      var hit = found[i];
      if (hit.parent === null) { continue; }
      if (this.hasValue) {
        hit.parent[hit.key] = this.value;
      } else if (isArray(hit.parent) && typeof hit.key === 'number') {
        hit.parent.splice(hit.key, 1);
      } else {
        delete hit.parent[hit.key];
      }
      changed = true;
    }
    return changed;
  };

  function query(text) { return new Query(native.String(text === undefined ? '' : text)); }

  // json-prune-{xhr,fetch}-response: the JSON bodies of `kind` responses (those whose request matches the
  // named extra `propsToMatch`, else all) lose the properties at `prunePaths` (as json-prune); `args` are the
  // scriptlet's arguments (prunePaths, needlePaths, then named extras).
  function pruneResponses(kind, args) {
    var prunePaths = args[0], needlePaths = args[1];
    var extra = dj.extraArgs(args, 2);
    var match = dj.net.propsMatcher(extra.propsToMatch);
    var prune = pruner(prunePaths, needlePaths);
    if (!prunePaths) { return; }
    dj.net.filterText(kind, function (details) { return match === null || match(details); }, function (text) {
      var obj;
      try { obj = native.JSON_parse(text); } catch (e) { return undefined; }
      return prune(obj) ? native.JSON_stringify(obj) : undefined;
    });
  }

  return { walk: walk, pruner: pruner, query: query, pruneResponses: pruneResponses };
})();
