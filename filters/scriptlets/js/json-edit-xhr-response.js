/// name json-edit-xhr-response
/// trusted no
function (jsonq) {
  // JSON bodies of XMLHttpRequest responses (those whose open() matches the extra argument
  // `propsToMatch`, else all) lose every node the JSON path `jsonq` finds (removal only).
  var native = dj.native;
  var query = dj.json.query(jsonq);
  if (!query.valid || query.hasValue) { return; }
  var match = dj.net.propsMatcher(dj.extraArgs(arguments, 1).propsToMatch);
  dj.net.filterXhrText(function (details) { return match === null || match(details); }, function (text) {
    var obj;
    try { obj = native.JSON_parse(text); } catch (e) { return undefined; }
    return query.apply(obj) ? native.JSON_stringify(obj) : undefined;
  });
}
