/// name remove-cookie
/// alias cookie-remover
/// trusted no
function (needle) {
  // Deletes the page's cookies whose name matches `needle` ('' for all), for this host, its dotted
  // form and the parent of `www.`, now and when the page unloads. Extra arguments: `when, scroll
  // keydown` also deletes them (at most twice a second) on those events; `domain, NAME|/regex/` adds a
  // domain.
  var matches = dj.matcher(needle === undefined ? '' : needle, false);
  var extra = dj.extraArgs(arguments, 1);
  var host = location.hostname;
  var domains = ['', '; domain=' + host, '; domain=.' + host];
  if (/^www\./.test(host)) { domains.push('; domain=' + host.slice(3)); }
  if (extra.domain) {
    var domain = extra.domain;
    if (/^\/.+\/$/.test(domain)) {
      var found = dj.regexOf(domain).exec(host);
      domain = found ? found[0] : '';
    }
    if (domain) { domains.push('; domain=' + domain, '; domain=.' + domain); }
  }
  var expired = '=; Max-Age=-1000; expires=Thu, 01 Jan 1970 00:00:00 GMT';
  var remove = function () {
    var pairs = dj.native.String(document.cookie).split(';');
    for (var i = 0; i < pairs.length; i++) {
      var at = pairs[i].indexOf('=');
      if (at === -1) { continue; }
      var cookieName = pairs[i].slice(0, at).trim();
      if (!matches(cookieName)) { continue; }
      for (var j = 0; j < domains.length; j++) {
        document.cookie = cookieName + expired + domains[j];
        document.cookie = cookieName + expired + domains[j] + '; path=/';
      }
    }
  };
  remove();
  dj.native.apply(dj.native.addEventListener, window, ['beforeunload', remove]);
  if (typeof extra.when !== 'string') { return; }
  var timer = null;
  var later = function () {
    if (timer !== null) { return; }
    timer = dj.native.setTimeout(function () { timer = null; remove(); }, 500);
  };
  var events = extra.when.split(/\s+/);
  for (var k = 0; k < events.length; k++) {
    if (events[k] === 'scroll' || events[k] === 'keydown') {
      dj.native.apply(dj.native.addEventListener, document, [events[k], later, { passive: true }]);
    }
  }
}
