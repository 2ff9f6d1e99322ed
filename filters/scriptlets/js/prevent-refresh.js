/// name prevent-refresh
/// alias refresh-defuser
/// trusted no
function (delay) {
  // A `<meta http-equiv="refresh">` does not move the page: once the page has loaded, loading is
  // stopped before the refresh is due (halfway through its delay, or at once when `delay` is given).
  var stopIfRefresh = function () {
    var meta = document.querySelector('meta[http-equiv="refresh" i][content]');
    if (meta === null) { return; }
    var seconds = parseFloat(meta.getAttribute('content') || '') || 0;
    var wait = delay ? 0 : Math.max(seconds, 0) * 500;
    if (wait === 0) { window.stop(); return; }
    dj.native.setTimeout(function () { window.stop(); }, wait);
  };
  dj.native.apply(dj.native.addEventListener, window, ['load', stopIfRefresh, { capture: true, once: true }]);
}
