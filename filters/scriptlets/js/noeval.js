/// name noeval
/// alias noeval-silent silent-noeval
/// trusted no
function () {
  // eval() runs nothing and returns undefined. (uBO's noeval reports each attempt in the console and
  // noeval-silent does not; dejunk reports only when window.__dejunkDebug is set, so they are one.)
  dj.chain.wrap(window, 'eval', function (target, thisArg, args) {
    if (window.__dejunkDebug) { try { console.warn('dejunk noeval: eval prevented', args[0]); } catch (e) { } }
    return undefined;
  });
}
