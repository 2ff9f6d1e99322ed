/// name disable-newtab-links
/// trusted no
function () {
  // A click on a link that has a `target` attribute (a new tab or window) does nothing.
  dj.native.apply(dj.native.addEventListener, document, ['click', function (event) {
    var node = event.target;
    while (node && node !== document) {
      if (node.localName === 'a' && node.hasAttribute('target')) {
        event.preventDefault();
        event.stopPropagation();
        return;
      }
      node = node.parentNode;
    }
  }, true]);
}
