/// name prevent-setInterval
/// alias no-setInterval-if nosiif setInterval-defuser
/// trusted no
function (needle, delay) {
  // See dj.timers.prevent: matching setInterval calls get a callback that does nothing.
  dj.timers.prevent('setInterval', needle, delay);
}
