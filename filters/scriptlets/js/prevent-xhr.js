/// name prevent-xhr
/// alias no-xhr-if
/// trusted no
function (propsToMatch, responseBody) {
  dj.net.preventXhr(false, Array.prototype.slice.call(arguments));
}
