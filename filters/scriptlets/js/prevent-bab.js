/// name prevent-bab
/// alias nobab bab-defuser
/// trusted no
function () {
  // BlockAdBlock (the blockadblock.com service) ships its detector as obfuscated code run through
  // eval() and a string setTimeout(). Code that carries its marks does not run, and the wall it may
  // already have put up (its `babasbmsgx` element, the hidden body) is taken down.
  var marks = [/blockadblock/i, /babasbm/, /getItem\(\s*['"]babn['"]\s*\)/];
  // Its loader also shows as a base64 decoder that looks for AdBlock: most of these together.
  var loader = ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'fromCharCode', 'AdBlock',
    'DOMContentLoaded', 'getElementById', 'localStorage', 'sessionStorage', 'clientWidth', 'doScroll', 'charAt'];
  var isBab = function (code) {
    if (typeof code !== 'string') { return false; }
    for (var i = 0; i < marks.length; i++) { if (marks[i].test(code)) { return true; } }
    var seen = 0;
    for (var j = 0; j < loader.length; j++) { if (code.indexOf(loader[j]) !== -1) { seen += 1; } }
    return seen >= 8;
  };
  var takeDown = function () {
    try {
      if (document.body) { document.body.style.removeProperty('visibility'); }
      var wall = document.getElementById('babasbmsgx');
      if (wall && wall.parentNode) { wall.parentNode.removeChild(wall); }
    } catch (e) { }
  };
  dj.chain.wrap(window, 'eval', function (target, thisArg, args) {
    if (isBab(args[0])) { takeDown(); return undefined; }
    return dj.native.apply(target, thisArg, args);
  });
  dj.chain.wrap(window, 'setTimeout', function (target, thisArg, args) {
    if (typeof args[0] === 'string' && /bab_elementid/.test(args[0])) {
      args = dj.timers.copy(args);
      args[0] = dj.timers.noop;
    }
    return dj.native.apply(target, thisArg, args);
  });
}
