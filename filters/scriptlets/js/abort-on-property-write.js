/// name abort-on-property-write
/// alias aopw
/// trusted no
function (chain) {
  var abort = dj.aborter();
  // Writing the property throws, which ends the page script that wrote it. What it held before stays
  // readable, so code that only looks at it goes on.
  dj.chain.whenOwner(chain, function (owner, name) {
    var held = dj.chain.valueOf(owner, name);
    dj.chain.trap(owner, name, {
      get: function () { return held; },
      set: function () { throw abort(); },
    });
  });
}
