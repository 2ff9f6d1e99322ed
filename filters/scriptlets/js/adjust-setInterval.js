/// name adjust-setInterval
/// alias nano-setInterval-booster nano-sib
/// trusted no
function (needle, delay, boost) {
  // setInterval calls whose callback text matches `needle` ('' for any) and whose delay is `delay`
  // (default 1000, `*` for any) run with the delay multiplied by `boost` (default 0.05, i.e. 20
  // times sooner; kept within 0.001 and 50).
  var matches = dj.timers.needle(needle, false);
  var wanted = delay === '*' ? null : parseInt(delay, 10);
  if (wanted !== null && (wanted !== wanted || !isFinite(wanted))) { wanted = 1000; }
  var factor = parseFloat(boost);
  factor = factor === factor && isFinite(factor) ? Math.min(Math.max(factor, 0.001), 50) : 0.05;
  dj.chain.wrap(window, 'setInterval', function (target, thisArg, args) {
    try {
      var given = dj.native.Number(args[1]);
      if ((wanted === null || given === wanted) && matches(dj.natives.functionText(args[0]))) {
        args = dj.timers.copy(args);
        args[1] = (given === given ? given : 0) * factor;
      }
    } catch (e) { }
    return dj.native.apply(target, thisArg, args);
  });
}
