// Property chains (`a.b.c`) and traps on them, shared by set-constant, the abort-* scriptlets and
// trusted-replace-argument. A link of a chain that does not exist yet is watched, so that the trap is
// set the moment the page creates the objects.
dj.chain = (function () {
  var native = dj.native;
  var defineProperty = native.defineProperty;
  var describe = native.getOwnPropertyDescriptor;

  function isObject(value) {
    return (typeof value === 'object' && value !== null) || typeof value === 'function';
  }

  function names(chain) {
    if (typeof chain !== 'string' || chain === '') { return []; }
    var parts = chain.split('.');
    for (var i = 0; i < parts.length; i++) { if (parts[i] === '') { return []; } }
    return parts;
  }

  // Calls found(owner, name) for the object that holds the chain's last link: now when every link
  // before it exists, else each time the page puts an object on the missing link. Reads and writes of
  // a watched link behave as before for the page.
  function reach(owner, parts, index, found) {
    if (index === parts.length - 1) { found(owner, parts[index]); return; }
    var name = parts[index];
    var value;
    try { value = owner[name]; } catch (e) { return; }
    if (isObject(value)) { reach(value, parts, index + 1, found); return; }
    var before = describe(owner, name);
    if (before && before.configurable === false) { return; }
    var current = value;
    var getBefore = before && before.get;
    var setBefore = before && before.set;
    defineProperty(owner, name, {
      configurable: true,
      enumerable: before ? before.enumerable : true,
      get: function () { return getBefore ? native.apply(getBefore, this, []) : current; },
      set: function (next) {
        if (setBefore) { native.apply(setBefore, this, [next]); }
        current = next;
        if (isObject(next)) { reach(next, parts, index + 1, found); }
      },
    });
  }

  function whenOwner(chain, found) {
    var parts = names(chain);
    if (parts.length === 0) { return false; }
    reach(window, parts, 0, found);
    return true;
  }

  // The value a property holds now, whether a plain value or behind a getter.
  function valueOf(owner, name) {
    try { return owner[name]; } catch (e) { return undefined; }
  }

  // Replaces the property with accessors; false when the page made it impossible (non-configurable).
  function trap(owner, name, accessors, configurable) {
    var before = describe(owner, name);
    if (before && before.configurable === false) { return false; }
    try {
      defineProperty(owner, name, {
        configurable: configurable !== false,
        enumerable: before ? before.enumerable : true,
        get: accessors.get,
        set: accessors.set,
      });
    } catch (e) { return false; }
    return true;
  }

  // A function the page calls through a property, replaced by a Proxy (which still reads as native
  // code) whose `handler(target, thisArg, args)` decides what a call does.
  function wrap(owner, name, handler) {
    var target;
    try { target = owner[name]; } catch (e) { return false; }
    if (typeof target !== 'function') { return false; }
    var proxy = new native.Proxy(target, {
      apply: function (fn, thisArg, args) { return handler(fn, thisArg, args); },
    });
    try { owner[name] = proxy; } catch (e) { return false; }
    return owner[name] === proxy;
  }

  // The object and name at the end of a chain that exists now, or null.
  function resolve(chain) {
    var parts = names(chain);
    if (parts.length === 0) { return null; }
    var owner = window;
    for (var i = 0; i < parts.length - 1; i++) {
      owner = valueOf(owner, parts[i]);
      if (!isObject(owner)) { return null; }
    }
    return { owner: owner, name: parts[parts.length - 1] };
  }

  return { names: names, whenOwner: whenOwner, valueOf: valueOf, trap: trap, wrap: wrap, resolve: resolve,
    isObject: isObject };
})();

// Aborting a page script: `var abort = dj.aborter();` when a scriptlet starts, `throw abort();` in its
// traps. The error is one no page code expects, and it is kept out of the console and away from the
// page's own error handlers (a detector could count aborted scripts there), which needs our listener
// to be in place before the page adds its own.
dj.aborter = (function () {
  var token = null;
  var make = function () { return new ReferenceError(token); };
  return function () {
    if (token === null) {
      token = 'dj' + dj.token();
      var quiet = function (event) {
        var message = event && event.message;
        if (typeof message === 'string' && message.indexOf(token) !== -1) {
          event.preventDefault();
          event.stopImmediatePropagation();
        }
      };
      dj.native.apply(dj.native.addEventListener, window, ['error', quiet, true]);
    }
    return make;
  };
})();

// Natives the scriptlets in this family read, saved before the page can replace them.
dj.natives = (function () {
  function getter(proto, name) {
    var found = proto && dj.native.getOwnPropertyDescriptor(proto, name);
    return found && found.get;
  }
  var currentScript = getter(Document.prototype, 'currentScript');
  var textContent = getter(Node.prototype, 'textContent');
  var src = getter(HTMLScriptElement.prototype, 'src');
  return {
    currentScript: function () { return currentScript ? dj.native.apply(currentScript, document, []) : null; },
    textOf: function (node) { return textContent ? dj.native.apply(textContent, node, []) : ''; },
    srcOf: function (script) { return src ? dj.native.apply(src, script, []) : ''; },
    functionText: function (value) {
      try {
        if (typeof value === 'function') { return dj.native.String(dj.native.apply(dj.native.toString, value, [])); }
        return dj.native.String(value);
      } catch (e) { return ''; }
    },
  };
})();
