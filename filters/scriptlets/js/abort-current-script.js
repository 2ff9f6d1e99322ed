/// name abort-current-script
/// alias acs abort-current-inline-script acis
/// trusted no
function (chain, needle, context) {
  var abort = dj.aborter();
  // Reading or writing the property throws while a page script whose text matches `needle` runs (its
  // text, or what its `data:` URL holds), and whose `src` matches `context` when one is given. The
  // first missing link of the chain is the property watched until the page creates it; then the
  // rest of the chain is followed.
  var matchesText = dj.matcher(needle === undefined ? '' : needle, false);
  var matchesSource = dj.matcher(context === undefined ? '' : context, false);
  var me = dj.natives.currentScript();
  var texts = new WeakMap();
  var scriptText = function (script) {
    var text = dj.natives.textOf(script);
    if (text.trim() !== '') { return text; }
    if (texts.has(script)) { return texts.get(script); }
    var data = /^data:([^,]*),([\s\S]*)$/.exec(dj.natives.srcOf(script).trim());
    text = '';
    if (data) {
      try { text = /;base64$/i.test(data[1]) ? atob(data[2]) : decodeURIComponent(data[2]); } catch (e) { }
    }
    texts.set(script, text);
    return text;
  };
  var check = function () {
    var script = dj.natives.currentScript();
    if (!script || script === me || !(script instanceof HTMLScriptElement)) { return; }
    if (context && !matchesSource(dj.natives.srcOf(script))) { return; }
    if (!matchesText(scriptText(script))) { return; }
    throw abort();
  };
  var parts = dj.chain.names(chain);
  if (parts.length === 0) { return; }
  var guard = function (owner, index) {
    var name = parts[index];
    var last = index === parts.length - 1;
    var current = dj.chain.valueOf(owner, name);
    if (!last && dj.chain.isObject(current)) { guard(current, index + 1); return; }
    var before = dj.native.getOwnPropertyDescriptor(owner, name);
    var getBefore = before && before.get;
    var setBefore = before && before.set;
    dj.chain.trap(owner, name, {
      get: function () {
        check();
        return getBefore ? dj.native.apply(getBefore, this, []) : current;
      },
      set: function (next) {
        check();
        if (setBefore) { dj.native.apply(setBefore, this, [next]); } else { current = next; }
        if (!last && dj.chain.isObject(next)) { guard(next, index + 1); }
      },
    });
  };
  guard(window, 0);
}
