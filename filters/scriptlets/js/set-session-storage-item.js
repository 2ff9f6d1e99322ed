/// name set-session-storage-item
/// trusted no
function (key, value) {
  // set-local-storage-item for sessionStorage.
  dj.storageItem('sessionStorage', key, value, dj.extraArgs(arguments, 2));
}
