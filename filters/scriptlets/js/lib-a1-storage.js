// Values set-cookie and set-local-storage-item may write from any list: words sites use for "the
// user answered" and whole numbers within +-32767 (uBO's rule; anything else needs a trusted list).
dj.safeWord = (function () {
  var words = {};
  ('accept accepted agree all allow allowed approved checked closed decline declined deny denied ' +
   'disable disabled disagree disallow disapproved dismiss dismissed done enable enabled essential f ' +
   'false forbidden forever functional granted hidden hide mandatory n necessary next no none ' +
   'nonessential notaccepted off ok on reject rejected required t true unchecked y yes').split(' ')
    .forEach(function (word) { words[word] = true; });
  return function (value, extra) {
    var plain = dj.native.String(value).toLowerCase();
    var quoted = /^"(.*)"$/.exec(plain);
    if (quoted) { plain = quoted[1]; }
    if (extra && extra.hasOwnProperty(plain)) { return true; }
    if (words.hasOwnProperty(plain)) { return true; }
    return /^-?\d+$/.test(plain) && Math.abs(parseInt(plain, 10)) <= 32767;
  };
})();

// A cookie's value as the page reads it, or undefined.
dj.cookieValue = function (name) {
  var pairs = dj.native.String(document.cookie).split(/\s*;\s*/);
  for (var i = 0; i < pairs.length; i++) {
    var at = pairs[i].indexOf('=');
    if (at !== -1 && pairs[i].slice(0, at) === name) { return pairs[i].slice(at + 1); }
  }
  return undefined;
};

// set-local-storage-item and set-session-storage-item: `which` is the storage's name on window.
dj.storageItem = function (which, key, value, extra) {
  if (!key || value === undefined) { return; }
  if (value === 'emptyArr') { value = '[]'; } else if (value === 'emptyObj') { value = '{}'; }
  var allowed = { '': true, 'undefined': true, 'null': true, '{}': true, '[]': true, '""': true, '$remove$': true };
  if (value !== '' && !dj.safeWord(value, allowed)) { return; }
  var changed = false;
  try {
    var storage = window[which];
    if (value === '$remove$') {
      var matches = /^\/.+\/[a-z]*$/.test(key) ? dj.regexOf(key) : null;
      var doomed = [];
      for (var i = 0; i < storage.length; i++) {
        var name = storage.key(i);
        if (matches ? matches.test(name) : name === key) { doomed.push(name); }
      }
      for (var j = 0; j < doomed.length; j++) { storage.removeItem(doomed[j]); }
      changed = doomed.length !== 0;
    } else if (storage.getItem(key) !== value) {
      storage.setItem(key, value);
      changed = true;
    }
  } catch (e) { return; }
  var wait = parseInt(extra && extra.reload, 10);
  if (changed && wait === wait) { dj.native.setTimeout(function () { location.reload(); }, wait); }
};
