/// name json-prune-xhr-response
/// trusted no
function (prunePaths, needlePaths) {
  // See dj.json.pruneResponses: XMLHttpRequest responses pruned as json-prune does.
  dj.json.pruneResponses('xhr', arguments);
}
