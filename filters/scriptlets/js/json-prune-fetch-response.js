/// name json-prune-fetch-response
/// trusted no
function (prunePaths, needlePaths) {
  // The JSON bodies of fetch() responses (those whose request matches the extra argument
  // `propsToMatch`, else all) lose the properties at `prunePaths` (as json-prune).
  var native = dj.native;
  var extra = dj.extraArgs(arguments, 2);
  var match = dj.net.propsMatcher(extra.propsToMatch);
  var prune = dj.json.pruner(prunePaths, needlePaths);
  if (!prunePaths) { return; }
  dj.net.filterFetchText(function (details) { return match === null || match(details); }, function (text) {
    var obj;
    try { obj = native.JSON_parse(text); } catch (e) { return undefined; }
    return prune(obj) ? native.JSON_stringify(obj) : undefined;
  });
}
