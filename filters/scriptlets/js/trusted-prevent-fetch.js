/// name trusted-prevent-fetch
/// trusted yes
function (propsToMatch, responseBody, responseType) {
  dj.net.preventFetch(true, Array.prototype.slice.call(arguments));
}
