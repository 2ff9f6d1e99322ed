/// name adjust-setTimeout
/// alias nano-setTimeout-booster nano-stb
/// trusted no
function (needle, delay, boost) {
  // See dj.timers.adjust: matching setTimeout calls run sooner (or later).
  dj.timers.adjust('setTimeout', needle, delay, boost);
}
