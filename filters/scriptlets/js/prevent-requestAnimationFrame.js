/// name prevent-requestAnimationFrame
/// alias no-requestAnimationFrame-if norafif
/// trusted no
function (needle) {
  // requestAnimationFrame calls whose callback text matches `needle` (`!` inverts) get a callback that
  // does nothing. Without a needle nothing is prevented (uBO only logs then).
  if (!needle) { return; }
  var matches = dj.timers.needle(needle, true);
  dj.chain.wrap(window, 'requestAnimationFrame', function (target, thisArg, args) {
    try {
      if (matches(dj.natives.functionText(args[0]))) {
        args = dj.timers.copy(args);
        args[0] = dj.timers.noop;
      }
    } catch (e) { }
    return dj.native.apply(target, thisArg, args);
  });
}
