/// name nofab
/// alias fuckadblock.js-3.2.0
/// trusted no
function () {
  // FuckAdBlock, BlockAdBlock and SniffAdBlock (the sitexw detector library and its copies) become a
  // stand-in that never detects anything: onNotDetected callbacks run, onDetected ones never do.
  // The page's own copy of the library cannot replace it.
  var nothing = function () {};
  var Detector = function (options) { this.options = { set: nothing, get: nothing }; };
  Detector.prototype.check = function () { return true; };
  Detector.prototype.emitEvent = nothing;
  Detector.prototype.clearEvent = nothing;
  Detector.prototype.setOption = function () { return this; };
  Detector.prototype.on = function (detected, callback) {
    if (!detected && typeof callback === 'function') { try { callback(); } catch (e) { } }
    return this;
  };
  Detector.prototype.onDetected = function () { return this; };
  Detector.prototype.onNotDetected = function (callback) { return this.on(false, callback); };
  // Copies of the library that declare it at the top level assign their methods to the constructor
  // they find, ours: those assignments must not change it.
  Object.freeze(Detector.prototype);
  Object.freeze(Detector);
  var instance = new Detector();
  var fix = function (name, value) {
    dj.chain.trap(window, name, { get: function () { return value; }, set: function () {} });
  };
  var kinds = ['FuckAdBlock', 'BlockAdBlock', 'SniffAdBlock'];
  for (var i = 0; i < kinds.length; i++) {
    fix(kinds[i], Detector);
    fix(kinds[i].charAt(0).toLowerCase() + kinds[i].slice(1), instance);
  }
}
