/// name remove-node-text
/// alias rmnt
/// trusted no
function (nodeName, includes) {
  // Empties the text of nodes named `nodeName` (`script`, `#text`, ...) whose text matches
  // `includes` (text or /regex/): inline scripts are emptied before they run.
  if (!nodeName) { return; }
  var extra = dj.extraArgs(arguments, 2);
  extra.includes = includes || '';
  extra.condition = undefined;
  dj.dom.replaceNodeText(nodeName, '', '', extra);
}
