/// name trusted-replace-node-text
/// alias trusted-rpnt replace-node-text rpnt
/// trusted yes
function (nodeName, pattern, replacement) {
  // In the text of nodes named `nodeName` (`script`, `#text`, ...), every match of `pattern` (text
  // or /regex/) becomes `replacement`: inline scripts are changed before they run. Extra
  // arguments: `condition`/`includes`, `excludes`, `sedCount`, `stay`, `quitAfter`.
  if (!nodeName || !pattern) { return; }
  dj.dom.replaceNodeText(nodeName, pattern, replacement === undefined ? '' : replacement, dj.extraArgs(arguments, 3));
}
