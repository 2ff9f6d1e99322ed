/// name trusted-replace-xhr-response
/// trusted yes
function (pattern, replacement, propsToMatch) {
  // See dj.net.replaceResponses: text of XMLHttpRequest responses changed.
  dj.net.replaceResponses('xhr', arguments);
}
