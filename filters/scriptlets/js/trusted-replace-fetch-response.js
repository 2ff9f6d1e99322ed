/// name trusted-replace-fetch-response
/// alias trusted-rpfr
/// trusted yes
function (pattern, replacement, propsToMatch) {
  // See dj.net.replaceResponses: text of fetch() responses changed.
  dj.net.replaceResponses('fetch', arguments);
}
