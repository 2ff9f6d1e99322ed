"""The dashboard's files: a fixed set of names from ui/, index.html with the token put in, escaped."""

from __future__ import annotations

from filters.dashboard.static import UI_DIR, Files


def test_the_shipped_index_has_the_token_placeholder_in_its_meta_tag():
    page = Files(UI_DIR).index("TOKEN-VALUE")
    assert b'<meta name="dejunk-token" content="TOKEN-VALUE">' in page
    assert b"__DEJUNK_TOKEN__" not in page


def test_only_plain_files_of_known_types_in_the_folder_are_served(tmp_path):
    (tmp_path / "index.html").write_text('<meta name="dejunk-token" content="__DEJUNK_TOKEN__">')
    (tmp_path / "app.js").write_text("1")
    (tmp_path / "app.css").write_text("b{}")
    (tmp_path / "secret.py").write_text("x")
    (tmp_path / ".hidden.js").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.js").write_text("x")
    (tmp_path / "link.js").symlink_to(tmp_path / "secret.py")
    files = Files(str(tmp_path))
    assert sorted(files.files) == ["app.css", "app.js", "index.html"]
    assert files.get("app.js") == (b"1", "text/javascript; charset=utf-8")
    assert files.get("app.css")[1] == "text/css; charset=utf-8"
    for name in ("secret.py", ".hidden.js", "sub/a.js", "../index.html", "link.js"):
        assert files.get(name) is None


def test_the_token_is_html_escaped_in_the_page(tmp_path):
    (tmp_path / "index.html").write_text('<meta name="dejunk-token" content="__DEJUNK_TOKEN__"><p>__DEJUNK_TOKEN__</p>')
    page = Files(str(tmp_path)).index('a"<b>&c')
    assert page == b'<meta name="dejunk-token" content="a&quot;&lt;b&gt;&amp;c"><p>a&quot;&lt;b&gt;&amp;c</p>'


def test_a_missing_folder_serves_nothing(tmp_path):
    files = Files(str(tmp_path / "none"))
    assert files.index("t") is None and files.get("index.html") is None
