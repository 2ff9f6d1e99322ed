/// name popads-dummy
/// trusted no
function () {
  // PopAds' loader does nothing when it finds itself already on the page: `PopAds` and `popns` are
  // put there, empty, for good.
  var names = ['PopAds', 'popns'];
  for (var i = 0; i < names.length; i++) {
    var empty = {};
    try { delete window[names[i]]; } catch (e) { }
    try {
      dj.native.defineProperty(window, names[i], { value: empty, writable: false, configurable: false, enumerable: true });
    } catch (e) { }
  }
}
