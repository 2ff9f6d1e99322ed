// The values set-constant and trusted-replace-argument accept, with the forms lib.js's
// dj.constant does not read: '' (an empty string, as lists write `set, x, )`), negative whole numbers
// down to -32767, `json:...` from trusted lists, and the `as` extra argument.
dj.setValue = function (text, trusted, as) {
  var value;
  text = text === undefined ? '' : dj.native.String(text);
  if (text === '') {
    value = '';
  } else if (/^-\d+$/.test(text) && dj.native.Number(text) >= -0x7FFF) {
    value = dj.native.Number(text);
  } else if (trusted && text.slice(0, 5) === 'json:') {
    try { value = dj.native.JSON_parse(text.slice(5)); } catch (e) { return dj.NOT_A_CONSTANT; }
  } else {
    value = dj.constant(text, trusted);
    if (value === dj.NOT_A_CONSTANT) { return value; }
  }
  switch (as) {
    case 'function': return function () { return value; };
    case 'callback': return function () { return function () { return value; }; };
    case 'resolved': return Promise.resolve(value);
    case 'rejected':
      var rejected = Promise.reject(value);
      rejected.catch(function () {});
      return rejected;
  }
  return value;
};

// `/regex/replacement/flags` (trusted-replace-argument's `repl:`): {re, text}, or null. A `/` inside
// the regex or the replacement is written `\/`.
dj.sedOf = function (text) {
  if (typeof text !== 'string' || text.charAt(0) !== '/') { return null; }
  var parts = [];
  var current = '';
  for (var i = 1; i < text.length; i++) {
    var c = text.charAt(i);
    if (c === '\\' && text.charAt(i + 1) === '/') { current += '/'; i += 1; continue; }
    if (c === '\\' && i + 1 < text.length) { current += c + text.charAt(i + 1); i += 1; continue; }
    if (c === '/' && parts.length < 2) { parts.push(current); current = ''; continue; }
    current += c;
  }
  if (parts.length !== 2 || parts[0] === '' || !/^[dgimsuy]*$/.test(current)) { return null; }
  try { return { re: new dj.native.RegExp(parts[0], current), text: parts[1] }; } catch (e) { return null; }
};
