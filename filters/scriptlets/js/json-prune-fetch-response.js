/// name json-prune-fetch-response
/// trusted no
function (prunePaths, needlePaths) {
  // See dj.json.pruneResponses: fetch() responses pruned as json-prune does.
  dj.json.pruneResponses('fetch', arguments);
}
