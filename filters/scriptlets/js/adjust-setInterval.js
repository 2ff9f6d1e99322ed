/// name adjust-setInterval
/// alias nano-setInterval-booster nano-sib
/// trusted no
function (needle, delay, boost) {
  // See dj.timers.adjust: matching setInterval calls run sooner (or later).
  dj.timers.adjust('setInterval', needle, delay, boost);
}
