/// name jsonl-edit-xhr-response
/// trusted no
function (jsonq) {
  // JSON Lines bodies of XMLHttpRequest responses (those whose open() matches the extra argument
  // `propsToMatch`, else all): each line that is a JSON object loses every node `jsonq` finds.
  var native = dj.native;
  var query = dj.json.query(jsonq);
  if (!query.valid || query.hasValue) { return; }
  var match = dj.net.propsMatcher(dj.extraArgs(arguments, 1).propsToMatch);
  dj.net.filterXhrText(function (details) { return match === null || match(details); }, function (text) {
    var separator = /\r\n/.test(text) ? '\r\n' : '\n';
    var lines = text.split(/\r?\n/);
    var changed = false;
    for (var i = 0; i < lines.length; i++) {
      var obj;
      try { obj = native.JSON_parse(lines[i]); } catch (e) { continue; }
      if (typeof obj !== 'object' || obj === null) { continue; }
      if (query.apply(obj)) { lines[i] = native.JSON_stringify(obj); changed = true; }
    }
    return changed ? lines.join(separator) : undefined;
  });
}
