/// name abort-on-stack-trace
/// alias aost
/// trusted no
function (chain, needle) {
  var abort = dj.aborter();
  // Reading or writing the property throws when the stack of the code doing it matches `needle` (`!`
  // inverts). The stack is written as uBO documents it: `stackDepth:N`, then one entry per frame,
  // `function url:line:1`, tab-separated; the page's own inline scripts are `inlineScript`, code
  // from eval and the like `injectedScript`.
  if (!needle) { return; }
  var matches = dj.matcher(needle, true);
  var page = dj.native.String(location.href).split('#')[0];
  var frame = /^\s*(?:at\s+)?(.*?)\s*\(?(\S+?)(:\d+):\d+\)?\s*$/;
  var firefoxFrame = /^(.*?)@(\S+?)(:\d+):\d+$/;
  var stack = function () {
    var limit = dj.native.Error.stackTraceLimit;
    var text = '';
    try {
      dj.native.Error.stackTraceLimit = 100;
      text = dj.native.String(new dj.native.Error().stack || '');
    } catch (e) { }
    try { dj.native.Error.stackTraceLimit = limit; } catch (e) { }
    var entries = [];
    var lines = text.split(/[\n\r]+/);
    for (var i = 0; i < lines.length; i++) {
      var found = firefoxFrame.exec(lines[i].trim()) || frame.exec(lines[i]);
      if (!found) { continue; }
      var url = found[2];
      if (url === page) { url = 'inlineScript'; } else if (url.indexOf('<anonymous>') === 0) { url = 'injectedScript'; }
      entries.push((found[1] + ' ' + url + found[3] + ':1').trim());
    }
    // The first three frames (this function, matchesNow, the trap) are dejunk's own, not the page's.
    entries = entries.slice(3);
    return ['stackDepth:' + entries.length].concat(entries).join('\t');
  };
  // Building the stack reads string methods itself: a trap on one of them must not test its own reads.
  var busy = false;
  var matchesNow = function () {
    if (busy) { return false; }
    busy = true;
    try { return matches(stack()); } finally { busy = false; }
  };
  dj.chain.whenOwner(chain, function (owner, name) {
    var before = dj.native.getOwnPropertyDescriptor(owner, name);
    var getBefore = before && before.get;
    var setBefore = before && before.set;
    var current = dj.chain.valueOf(owner, name);
    dj.chain.trap(owner, name, {
      get: function () {
        if (matchesNow()) { throw abort(); }
        return getBefore ? dj.native.apply(getBefore, this, []) : current;
      },
      set: function (next) {
        if (matchesNow()) { throw abort(); }
        if (setBefore) { dj.native.apply(setBefore, this, [next]); } else { current = next; }
      },
    });
  });
}
