/// name prevent-setTimeout
/// alias no-setTimeout-if nostif setTimeout-defuser
/// trusted no
function (needle, delay) {
  // See dj.timers.prevent: matching setTimeout calls get a callback that does nothing.
  dj.timers.prevent('setTimeout', needle, delay);
}
