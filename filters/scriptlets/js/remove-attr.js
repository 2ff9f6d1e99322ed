/// name remove-attr
/// alias ra
/// trusted no
function (attributes, selector, behaviour) {
  // Removes the attributes `attributes` (names separated by `|`) from the elements matching
  // `selector` (default: any element that has one). Runs once the document is parsed (`asap`:
  // at once; `complete`: after load); `stay` keeps doing it for elements added or changed later,
  // and the extra argument `quitAfter, seconds` stops that after so many seconds.
  if (!attributes) { return; }
  var names = String(attributes).split(/\s*\|\s*/).filter(function (n) { return n !== ''; });
  var parts = [];
  for (var i = 0; i < names.length; i++) {
    var attr = '[' + CSS.escape(names[i]) + ']';
    parts.push(selector && selector.indexOf(attr) !== -1 ? selector : (selector || '') + attr);
  }
  var target = parts.join(',');
  if (!dj.dom.validSelector(target)) { return; }
  var how = dj.dom.behaviour(behaviour, 'interactive');
  var extra = dj.extraArgs(arguments, 3);
  var strip = function () {
    var found = dj.dom.query(target);
    for (var j = 0; j < found.length; j++) {
      for (var k = 0; k < names.length; k++) { dj.native.apply(dj.dom.saved.removeAttribute, found[j], [names[k]]); }
    }
  };
  dj.runAt(function () {
    strip();
    if (!how.stay && extra.quitAfter === undefined) { return; }
    var stop = dj.dom.watch(strip, names);
    var seconds = parseFloat(extra.quitAfter);
    if (seconds > 0) { dj.native.setTimeout(stop, seconds * 1000); }
  }, how.when);
}
