/// name abort-on-property-read
/// alias aopr
/// trusted no
function (chain) {
  var abort = dj.aborter();
  // Reading the property throws, which ends the page script that read it; writes are ignored. Links
  // of the chain that do not exist yet are watched until the page creates them.
  dj.chain.whenOwner(chain, function (owner, name) {
    dj.chain.trap(owner, name, {
      get: function () { throw abort(); },
      set: function () {},
    });
  });
}
