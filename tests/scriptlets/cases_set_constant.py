"""Cases for set-constant."""

from .cases import Case

CASES = [
    Case(
        id="set-constant-flag",
        call="set, adBlockDetected, false",
        page="""<!doctype html><html><head><title>t</title>
<script>window.adBlockDetected = true;</script></head>
<body><p id="out"></p><script>document.getElementById('out').textContent = String(window.adBlockDetected);</script>
</body></html>""",
        probe="document.getElementById('out').textContent",
        expect="false",
        control="true",
    ),
]
