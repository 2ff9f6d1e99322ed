/// name json-edit
/// trusted no
function (jsonq) {
  // Objects made by JSON.parse() lose every node the uBO-flavoured JSON path `jsonq` finds (this
  // untrusted form only removes: a query that assigns is refused). The extra argument `matches`
  // limits it to JSON text that matches that pattern.
  var native = dj.native;
  var query = dj.json.query(jsonq);
  if (!query.valid || query.hasValue) { return; }
  var extra = dj.extraArgs(arguments, 1);
  var textTest = extra.matches ? dj.net.matcher(extra.matches, false) : null;
  dj.net.trapCall(JSON, 'parse', function (fn, thisArg, args) {
    var result = native.apply(fn, thisArg, args);
    if (textTest === null || textTest(args[0])) { query.apply(result); }
    return result;
  });
}
