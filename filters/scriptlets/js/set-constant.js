/// name set-constant
/// alias set
/// trusted no
function (chain, value) {
  // Only the first step of the library's chain helper is needed here: the simplest form, a property of
  // window (or an object already there), replaced by a constant the page cannot change.
  var constant = dj.constant(value, false);
  if (constant === dj.NOT_A_CONSTANT || !chain) { return; }
  var names = chain.split('.');
  var last = names.pop();
  var owner = window;
  for (var i = 0; i < names.length; i++) {
    owner = owner[names[i]];
    if (owner === undefined || owner === null) { return; }
  }
  dj.native.defineProperty(owner, last, {
    configurable: false,
    get: function () { return constant; },
    set: function () {},
  });
}
