/// name href-sanitizer
/// alias urlskip
/// trusted no
function (selector, source) {
  // Links (`a` elements matching `selector`) get as href the real target they hide: `text` (the
  // default) their text, `[name]` an attribute's value, `?name` a parameter of their href (`?a?b`:
  // parameter b of parameter a's URL), optionally followed by steps `-base64`, `-uricomponent`,
  // `+https`. Runs once the document is parsed and again on links added later.
  if (!selector) { return; }
  source = source || 'text';
  if (!dj.dom.validSelector(selector)) { return; }
  var param = function (href, names) {
    var url;
    try { url = new URL(href, document.location.href); } catch (e) { return undefined; }
    var value = url.searchParams.get(names[0]);
    if (value === null) { return undefined; }
    return names.length > 1 ? param(value, names.slice(1)) : value;
  };
  var extract = function (element) {
    if (/^\[.*\]$/.test(source)) { return element.getAttribute(source.slice(1, -1).trim()) || ''; }
    if (source === 'text') { return element.textContent.replace(/^[^\x21-\x7e]+|[^\x21-\x7e]+$/g, ''); }
    var steps = source.split(/\s+/);
    if (steps[0].charAt(0) !== '?') { return ''; }
    var value = param(element.href, steps[0].slice(1).split('?'));
    for (var i = 1; i < steps.length && value !== undefined; i++) {
      try {
        if (steps[i] === '-base64') { value = atob(value); }
        else if (steps[i] === '-uricomponent') { value = decodeURIComponent(value); }
        else if (steps[i] === '+https' && !/^https?:/.test(value)) { value = 'https://' + value; }
        else if (steps[i].charAt(0) === '?') { value = param(value, steps[i].slice(1).split('?')); }
      } catch (e) { value = undefined; }
    }
    return value === undefined ? '' : value.replace(/ /g, '%20');
  };
  var valid = function (text) {
    if (typeof text !== 'string' || text === '' || /[\x00-\x20\x7f]/.test(text)) { return ''; }
    try {
      var url = new URL(text, document.location.href);
      return /^(https?|ftp):$/.test(url.protocol) ? url.href : '';
    } catch (e) { return ''; }
  };
  var sanitize = function () {
    var found = dj.dom.query(selector);
    for (var i = 0; i < found.length; i++) {
      var element = found[i];
      if (element.localName !== 'a' || !element.hasAttribute('href')) { continue; }
      var after = valid(extract(element));
      if (after !== '' && after !== element.getAttribute('href')) { element.setAttribute('href', after); }
    }
  };
  dj.runAt(function () {
    sanitize();
    dj.dom.watch(sanitize, null);
  }, 'interactive');
}
