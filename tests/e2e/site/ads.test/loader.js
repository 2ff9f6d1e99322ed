// The ad network's loader: writes a sponsored box into the page and reports the impression.
(function () {
  var box = document.createElement("div");
  box.id = "injected-ad";
  box.textContent = "SPONSORED: Buy more loopback today!";
  box.style.cssText = "background:#fd0;padding:1em;font-weight:bold";
  function place() { document.body.insertBefore(box, document.body.firstChild); }
  if (document.body) { place(); } else { document.addEventListener("DOMContentLoaded", place); }
  var beacon = new Image();
  beacon.src = "{{tracker}}/pixel.gif?impression=loader";
  window.adLoaderRan = true;
})();
