/// name noeval-if
/// alias prevent-eval-if
/// trusted no
function (needle) {
  // eval() of code matching `needle` runs nothing and returns undefined; other code runs. Without a
  // needle nothing is prevented (uBO only logs then).
  if (!needle) { return; }
  var matches = dj.matcher(needle, false);
  dj.chain.wrap(window, 'eval', function (target, thisArg, args) {
    var code = '';
    try { code = dj.native.String(args[0]); } catch (e) { }
    if (matches(code)) { return undefined; }
    return dj.native.apply(target, thisArg, args);
  });
}
