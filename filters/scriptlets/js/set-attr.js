/// name set-attr
/// trusted no
function (selector, attribute, value) {
  // Sets `attribute` on the elements matching `selector`, once the page has loaded and again on
  // elements added later. `value` is '' (default), `true`, `false`, an integer below 32768, or
  // `[other]`: the value of the element's attribute `other`. An event handler attribute (`on...`)
  // can only be emptied. The extra argument `runAt` changes when it starts.
  if (!selector || !attribute) { return; }
  value = value === undefined ? '' : String(value);
  var copyFrom = '';
  if (/^\[.+\]$/.test(value)) {
    copyFrom = value.slice(1, -1);
  } else if (['', 'true', 'false'].indexOf(value.toLowerCase()) === -1) {
    if (!/^\d+$/.test(value) || parseInt(value, 10) >= 32768) { return; }
    value = String(parseInt(value, 10));
  }
  if (!dj.dom.validSelector(selector)) { return; }
  var extra = dj.extraArgs(arguments, 3);
  var saved = dj.dom.saved;
  var apply = function () {
    var found = dj.dom.query(selector);
    for (var i = 0; i < found.length; i++) {
      var element = found[i];
      var after = copyFrom ? (dj.native.apply(saved.getAttribute, element, [copyFrom]) || '') : value;
      if (dj.native.apply(saved.getAttribute, element, [attribute]) === after) { continue; }
      if (after !== '' && /^on/i.test(attribute)) { continue; }
      dj.native.apply(saved.setAttribute, element, [attribute, after]);
    }
  };
  dj.runAt(function () {
    apply();
    dj.dom.watch(apply, null);
  }, extra.runAt || 'complete');
}
