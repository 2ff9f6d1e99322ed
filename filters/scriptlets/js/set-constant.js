/// name set-constant
/// alias set
/// trusted no
function (chain, value) {
  // `chain` may name objects the page has not created yet (`flashvars.adv_pre_vast`): each missing
  // link is watched and the constant is put in place when the page creates it. Extra arguments come
  // in pairs: `runAt, interactive|complete|...` and `as, function|callback|resolved|rejected`; a lone
  // third argument is the older positional `runAt` (`set, document.body.oncontextmenu, null, 2`).
  var extra = dj.extraArgs(arguments, 2);
  if (arguments.length === 3) { extra = { runAt: arguments[2] }; }
  var constant = dj.setValue(value, false, extra.as);
  if (constant === dj.NOT_A_CONSTANT || !chain) { return; }
  var settable = function (v) { return v === undefined || v === null; };
  // uBO's rule: a value of another type than the constant (neither being undefined or null) means the
  // property is not what the rule was written for; the page's value then stands.
  var otherType = function (v) { return !settable(v) && !settable(constant) && typeof v !== typeof constant; };
  var install = function () {
    dj.chain.whenOwner(chain, function (owner, name) {
      var current = dj.chain.valueOf(owner, name);
      if (otherType(current)) { return; }
      // Through the page's own setter first: an inherited accessor (an element's `oncontextmenu`)
      // then drops what it held (the handler from the attribute) before the trap hides it.
      if (current !== constant) { try { owner[name] = constant; } catch (e) { } }
      var pageValue;
      var givenUp = false;
      dj.chain.trap(owner, name, {
        get: function () { return givenUp ? pageValue : constant; },
        set: function (next) {
          if (givenUp) { pageValue = next; return; }
          if (otherType(next)) { givenUp = true; pageValue = next; }
        },
      }, false);
    });
  };
  dj.runAt(install, extra.runAt === undefined ? '' : String(extra.runAt));
}
