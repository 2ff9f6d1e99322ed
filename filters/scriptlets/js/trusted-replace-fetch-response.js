/// name trusted-replace-fetch-response
/// alias trusted-rpfr
/// trusted yes
function (pattern, replacement, propsToMatch) {
  // The text of fetch() responses whose request matches `propsToMatch` (all when empty) has every
  // match of `pattern` (text, or /regex/flags; `*` is the whole text) replaced.
  var native = dj.native;
  if (!pattern) { return; }
  var re = dj.net.replacePattern(pattern);
  var match = dj.net.propsMatcher(propsToMatch);
  var extra = dj.extraArgs(arguments, 3);
  var includes = extra.includes ? dj.net.matcher(extra.includes, false) : null;
  replacement = replacement === undefined ? '' : native.String(replacement);
  dj.net.filterFetchText(function (details) { return match === null || match(details); }, function (text) {
    if (includes !== null && !includes(text)) { return undefined; }
    re.lastIndex = 0;
    return text.replace(re, replacement);
  });
}
