/// name addEventListener-defuser
/// alias aeld prevent-addEventListener
/// trusted no
function (type, handler) {
  // addEventListener calls whose event type matches `type` (the whole type, or a /regex/) and whose
  // listener's text matches `handler` do nothing. Extra arguments: `elements, SELECTOR` (only
  // listeners added to matching elements; `window` and `document` name those), `runAt, WHEN`,
  // `protect, 1` (the page cannot replace addEventListener afterwards). With neither `type` nor
  // `handler` nothing is prevented (uBO only logs then).
  type = type === undefined ? '' : type;
  handler = handler === undefined ? '' : handler;
  if (type === '' && handler === '') { return; }
  var extra = dj.extraArgs(arguments, 2);
  var typeRe = type === '' || /^\/.+\/[a-z]*$/.test(type) ? dj.regexOf(type)
    : new dj.native.RegExp('^' + dj.escapeRegex(type) + '$');
  var handlerRe = dj.regexOf(handler);
  var selector = extra.elements;
  var onElement = function (target) {
    if (!selector) { return true; }
    if (selector === 'window') { return target === window; }
    if (selector === 'document') { return target === document; }
    try { return !!(target && typeof target.matches === 'function' && target.matches(selector)); } catch (e) { return false; }
  };
  var listenerText = function (listener) {
    if (listener && typeof listener === 'object' && typeof listener.handleEvent === 'function') {
      return dj.natives.functionText(listener.handleEvent);
    }
    return dj.natives.functionText(listener);
  };
  var install = function () {
    var proto = EventTarget.prototype;
    dj.chain.wrap(proto, 'addEventListener', function (target, thisArg, args) {
      var prevent = false;
      try {
        prevent = typeRe.test(dj.native.String(args[0])) && handlerRe.test(listenerText(args[1])) && onElement(thisArg);
      } catch (e) { }
      if (prevent) { return undefined; }
      return dj.native.apply(target, thisArg, args);
    });
    if (extra.protect) {
      var kept = proto.addEventListener;
      dj.chain.trap(proto, 'addEventListener', { get: function () { return kept; }, set: function () {} }, false);
    }
  };
  dj.runAt(install, extra.runAt === undefined ? '' : extra.runAt);
}
