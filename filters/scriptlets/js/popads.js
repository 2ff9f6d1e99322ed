/// name popads
/// alias popads.net
/// trusted no
function () {
  var abort = dj.aborter();
  // The PopAds script ends as soon as it tries to set up `PopAds` or `popns` (abort-on-property-write
  // on both).
  var names = ['PopAds', 'popns'];
  for (var i = 0; i < names.length; i++) {
    dj.chain.trap(window, names[i], {
      get: function () { return undefined; },
      set: function () { throw abort(); },
    });
  }
}
