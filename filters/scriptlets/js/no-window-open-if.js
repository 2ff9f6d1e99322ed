/// name no-window-open-if
/// alias nowoif prevent-window-open window.open-defuser
/// trusted no
function (pattern, delay, decoy) {
  // window.open calls whose arguments (URL, target, features, joined by spaces) match `pattern`
  // (`!` inverts; none matches every call) open nothing. Without `delay` the call returns null;
  // with it, popunder scripts that check their window get a decoy: a hidden 1px frame (an
  // <object> with decoy `obj`) loading the URL, removed after `delay` seconds, and its window.
  var test = dj.net.matcher(pattern === undefined ? '' : pattern, true);
  var seconds = parseInt(delay, 10);
  var native = dj.native;
  var makeDecoy = function (url) {
    var tag = decoy === 'obj' ? 'object' : 'iframe';
    var element = document.createElement(tag);
    element[tag === 'object' ? 'data' : 'src'] = url;
    element.style.setProperty('position', 'fixed', 'important');
    element.style.setProperty('top', '-1px', 'important');
    element.style.setProperty('left', '-1px', 'important');
    element.style.setProperty('width', '1px', 'important');
    element.style.setProperty('height', '1px', 'important');
    element.style.setProperty('opacity', '0', 'important');
    element.style.setProperty('pointer-events', 'none', 'important');
    (document.body || document.documentElement).appendChild(element);
    native.setTimeout(function () { if (element.parentNode) { element.parentNode.removeChild(element); } }, seconds * 1000);
    return element;
  };
  var fakeWindow = function () {
    var noop = function () {};
    return new native.Proxy(window, {
      get: function (target, prop) {
        if (prop === 'closed') { return false; }
        var value;
        try { value = target[prop]; } catch (e) { return undefined; }
        return typeof value === 'function' ? noop : value;
      },
      set: function () { return true; },
    });
  };
  dj.net.trapCall(window, 'open', function (fn, thisArg, args) {
    var haystack = Array.prototype.map.call(args, function (a) { return native.String(a); }).join(' ');
    if (!test(haystack)) { return native.apply(fn, thisArg, args); }
    if (isNaN(seconds) || seconds < 0) { return null; }
    var popup = null;
    try {
      var element = makeDecoy(args[0] === undefined ? 'about:blank' : native.String(args[0]));
      popup = element.contentWindow;
      if (popup) { try { native.defineProperty(popup, 'closed', { value: false }); } catch (e) { } }
    } catch (e) { }
    return popup || fakeWindow();
  });
}
