/// name trusted-replace-argument
/// trusted yes
function (chain, position, replacement) {
  // Calls of the function at `chain` get argument `position` (0-based; negative counts from the
  // last; `this` for the object it is called on) replaced by `replacement`: a set-constant value (any
  // from a trusted list), `json:JSON`, or `repl:/regex/text/flags` applied to a string argument.
  // Extra argument: `condition, PATTERN` replaces only an argument that matches it.
  if (!chain || position === undefined || position === '') { return; }
  var extra = dj.extraArgs(arguments, 3);
  var condition = extra.condition ? dj.regexOf(extra.condition) : null;
  var edit = null;
  var value;
  if (typeof replacement === 'string' && replacement.slice(0, 6) === 'repl:/') {
    edit = dj.sedOf(replacement.slice(5));
    if (edit === null) { return; }
  } else {
    value = dj.setValue(replacement, true, extra.as);
    if (value === dj.NOT_A_CONSTANT) { return; }
  }
  var offset = parseInt(position, 10);
  if (position !== 'this' && offset !== offset) { return; }
  var place = dj.chain.resolve(chain);
  if (place === null) { return; }
  dj.chain.wrap(place.owner, place.name, function (target, thisArg, args) {
    args = dj.timers.copy(args);
    var at = position === 'this' ? -1 : (offset < 0 ? args.length + offset : offset);
    if (position !== 'this' && (at < 0 || at >= args.length)) { return dj.native.apply(target, thisArg, args); }
    var before = position === 'this' ? thisArg : args[at];
    var text = '';
    try { text = dj.native.String(before); } catch (e) { }
    if (condition && !condition.test(text)) { return dj.native.apply(target, thisArg, args); }
    var after = value;
    if (edit !== null) {
      if (typeof before !== 'string') { return dj.native.apply(target, thisArg, args); }
      after = before.replace(edit.re, edit.text);
    }
    if (position === 'this') { thisArg = after; } else { args[at] = after; }
    return dj.native.apply(target, thisArg, args);
  });
}
