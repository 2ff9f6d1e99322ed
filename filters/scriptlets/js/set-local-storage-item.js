/// name set-local-storage-item
/// trusted no
function (key, value) {
  // Sets a localStorage item to an allowed value: those of set-cookie, '', `undefined`, `null`, `{}`,
  // `[]`, `""`, `emptyArr`, `emptyObj`; `$remove$` deletes the items whose key is `key` (or matches
  // `/regex/`). Extra argument: `reload, MS` reloads the page after MS ms when something changed.
  dj.storageItem('localStorage', key, value, dj.extraArgs(arguments, 2));
}
