/// name prevent-fetch
/// alias no-fetch-if
/// trusted no
function (propsToMatch, responseBody, responseType) {
  dj.net.preventFetch(false, Array.prototype.slice.call(arguments));
}
