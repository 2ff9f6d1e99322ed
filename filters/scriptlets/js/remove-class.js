/// name remove-class
/// alias rc
/// trusted no
function (classes, selector, behaviour) {
  // Removes the classes `classes` (names separated by `|`) from the elements matching `selector`
  // (default: any element that has one). When it runs and `stay`, as remove-attr.
  if (!classes) { return; }
  var names = String(classes).split(/\s*\|\s*/).filter(function (n) { return n !== ''; });
  if (names.length === 0) { return; }
  var target = selector || names.map(function (n) { return '.' + CSS.escape(n); }).join(',');
  if (!dj.dom.validSelector(target)) { return; }
  var how = dj.dom.behaviour(behaviour, 'interactive');
  var extra = dj.extraArgs(arguments, 3);
  var strip = function () {
    var found = dj.dom.query(target);
    for (var j = 0; j < found.length; j++) {
      for (var k = 0; k < names.length; k++) {
        if (found[j].classList.contains(names[k])) { found[j].classList.remove(names[k]); }
      }
    }
  };
  dj.runAt(function () {
    strip();
    if (!how.stay && extra.quitAfter === undefined) { return; }
    var stop = dj.dom.watch(strip, ['class']);
    var seconds = parseFloat(extra.quitAfter);
    if (seconds > 0) { dj.native.setTimeout(stop, seconds * 1000); }
  }, how.when);
}
