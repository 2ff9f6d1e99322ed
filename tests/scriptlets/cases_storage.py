"""Cases for set-cookie, remove-cookie, the storage items, prevent-refresh and trusted-replace-argument.

Cookies and storage outlive a page load, and the control run comes first: a case that needs the page
to have stored something before the scriptlet acts stores it on a first load, reloads once (counted
in sessionStorage, which is the tab's own), and reports on the second.
"""

from .cases import OUT, Case, plain_page

page = plain_page


def second_load(prepare: str, report: str, key: str) -> str:
    """Runs `prepare` on the first load of the tab and reloads once it loaded, then `report` on the second."""
    return page(f"""<script>
if (!sessionStorage.getItem('{key}')) {{
  sessionStorage.setItem('{key}', '1'); {prepare}
  window.addEventListener('load', function () {{ setTimeout(function () {{ location.reload(); }}, 0); }});
}}
else {{ document.getElementById('out').textContent = {report}; }}
</script>""")


CASES = [
    Case(
        # tnaflix.com: `set-cookie, popunder_stop, 1`.
        id="set-cookie-safe-value",
        call="set-cookie, popunder_stop, 1",
        page=page("<script>document.getElementById('out').textContent = "
                  "/(^|; )popunder_stop=1(;|$)/.test(document.cookie) ? 'no popunder' : 'popunder';</script>"),
        probe=OUT,
        expect="no popunder",
        control="popunder",
    ),
    Case(
        # `set-cookie, ADBp, yes`: a word from the allowed set.
        id="set-cookie-word",
        call="set-cookie, ADBp, yes",
        page=page("<script>document.getElementById('out').textContent = "
                  "/(^|; )ADBp=yes(;|$)/.test(document.cookie) ? 'quiet' : 'nag';</script>"),
        probe=OUT,
        expect="quiet",
        control="nag",
    ),
    Case(
        # zootube1.com: `cookie-remover, da325`: the cookie the page set is gone on its next load.
        id="cookie-remover-name",
        call="cookie-remover, da325",
        page=second_load("document.cookie = 'da325=1; path=/'; document.cookie = 'keep_me=1; path=/';",
                         "(/(^|; )da325=/.test(document.cookie) ? 'tracked' : 'clean') + '/' + "
                         "(/(^|; )keep_me=/.test(document.cookie) ? 'kept' : 'lost')",
                         "cookie-remover-name"),
        probe=OUT,
        expect="clean/kept",
        control="tracked/kept",
        settle=2.0,
    ),
    Case(
        # t3n.de: `set-local-storage-item, ADB_ACTIVE_STATUS, $remove$`.
        id="set-local-storage-item-remove",
        call="set-local-storage-item, ADB_ACTIVE_STATUS, %24remove%24",
        page=second_load("localStorage.setItem('ADB_ACTIVE_STATUS', 'active');",
                         "String(localStorage.getItem('ADB_ACTIVE_STATUS'))", "set-local-storage-item-remove"),
        probe=OUT,
        expect="null",
        control="active",
        settle=2.0,
    ),
    Case(
        id="set-local-storage-item-value",
        call="set-local-storage-item, adblock_notice_seen, true",
        page=page("<script>document.getElementById('out').textContent = "
                  "localStorage.getItem('adblock_notice_seen') === 'true' ? 'quiet' : 'notice';</script>"),
        probe=OUT,
        expect="quiet",
        control="notice",
    ),
    Case(
        id="set-session-storage-item-value",
        call="set-session-storage-item, popup_shown, 1",
        page=page("<script>document.getElementById('out').textContent = "
                  "sessionStorage.getItem('popup_shown') === '1' ? 'no popup' : 'popup';</script>"),
        probe=OUT,
        expect="no popup",
        control="popup",
    ),
    Case(
        # `refresh-defuser`: a `<meta http-equiv="refresh">` that would move the page elsewhere.
        id="refresh-defuser-meta",
        call="refresh-defuser",
        page="""<!doctype html><html><head><title>t</title>
<meta http-equiv="refresh" content="1;url=/case/refresh-defuser-meta?moved=1"></head>
<body><p id="out">none</p></body></html>""",
        probe="location.search.indexOf('moved') !== -1",
        expect=False,
        control=True,
        settle=2.0,
    ),
    Case(
        # bild.de: `trusted-replace-argument, JSON.parse, 0, repl:/.../.../, condition, adBlockWallEnabled`.
        id="trusted-replace-argument-json-parse",
        call="trusted-replace-argument, JSON.parse, 0, "
             "repl%3A%2F%22adBlockWallEnabled%22%3Atrue%2F%22adBlockWallEnabled%22%3Afalse%2F, condition, adBlockWallEnabled",
        page=page("""<script>
var config = JSON.parse('{"adBlockWallEnabled":true,"player":"on"}');
var plain = JSON.parse('{"wall":true}');
document.getElementById('out').textContent = config.adBlockWallEnabled + '/' + config.player + '/' + plain.wall;
</script>"""),
        probe=OUT,
        expect="false/on/true",
        control="true/on/true",
        trusted_only=True,
    ),
    Case(
        # A constant in place of the argument, the position counted from the last.
        id="trusted-replace-argument-constant",
        call="trusted-replace-argument, Math.max, -1, 0",
        page=page("<script>document.getElementById('out').textContent = String(Math.max(1, 5));</script>"),
        probe=OUT,
        expect="1",
        control="5",
        trusted_only=True,
    ),
]
