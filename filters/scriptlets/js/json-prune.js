/// name json-prune
/// trusted no
function (prunePaths, needlePaths, stackNeedle) {
  // Objects made by JSON.parse() and Response.json() lose the properties at `prunePaths` (space
  // separated; see dj.json.walk for `*`, `[]`, `[-]`), when every one of `needlePaths` is there.
  // `stackNeedle`, when given, limits this to calls whose stack trace matches it.
  var native = dj.native;
  var prune = dj.json.pruner(prunePaths, needlePaths);
  var stackTest = stackNeedle ? dj.net.matcher(stackNeedle, true) : null;
  var fromWantedCaller = function () {
    if (stackTest === null) { return true; }
    var stack = '';
    try { stack = native.String(new native.Error().stack); } catch (e) { }
    return stackTest(stack);
  };
  dj.net.trapCall(JSON, 'parse', function (fn, thisArg, args) {
    var result = native.apply(fn, thisArg, args);
    if (fromWantedCaller()) { prune(result); }
    return result;
  });
  if (window.Response) {
    dj.net.trapCall(window.Response.prototype, 'json', function (fn, thisArg, args) {
      var promise = native.apply(fn, thisArg, args);
      if (!fromWantedCaller()) { return promise; }
      return promise.then(function (result) { prune(result); return result; });
    });
  }
}
