/// name set-cookie
/// trusted no
function (name, value, path) {
  // Sets a first-party cookie to an allowed value (see dj.safeWord) for path `/` (or none with
  // `none`; other paths are refused, as uBO does). Extra arguments: `reload, 1` reloads the page once
  // the cookie changed; `dontOverwrite, 1` leaves an existing cookie alone.
  if (!name || value === undefined) { return; }
  var extra = dj.extraArgs(arguments, 3);
  if (!dj.safeWord(value)) { return; }
  // A name is an RFC 2616 token; a value leaves out `;`, `\`, control and non-ASCII characters.
  if (/[\x00-\x20\x7F-\uFFFF()<>@,;:\\"\/[\]?={}]/.test(name)) { name = encodeURIComponent(name); }
  if (/[;\\\x00-\x1F\x7F-\uFFFF]/.test(value)) { value = encodeURIComponent(value); }
  path = path === undefined || path === '' ? '/' : path;
  if (path !== '/' && path !== 'none') { return; }
  var before = dj.cookieValue(name);
  if (before !== undefined && extra.dontOverwrite) { return; }
  if (before === value) { return; }
  var cookie = name + '=' + value + (path === '/' ? '; path=/' : '');
  if (/^__(Host|Secure)-/.test(name)) { cookie += '; Secure'; }
  try { document.cookie = cookie; } catch (e) { return; }
  if (extra.reload && dj.cookieValue(name) === value) { location.reload(); }
}
