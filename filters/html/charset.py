"""Which character encoding a page is in, as a browser decides it: BOM, then header, then `<meta>`.

The rewriter reads a page with the encoding found here and cuts the original bytes, so the
output stays in the page's own encoding. Labels follow the WHATWG Encoding Standard (a page
saying `iso-8859-1` is read as windows-1252, `shift_jis` as windows-31j, as browsers do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# WHATWG encoding name -> (Python codec, labels). Facts from the Encoding Standard's label table.
_ENCODINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "UTF-8": ("utf-8", ("unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8")),
    "IBM866": ("cp866", ("866", "cp866", "csibm866", "ibm866")),
    "ISO-8859-2": ("iso8859_2", ("csisolatin2", "iso-8859-2", "iso-ir-101", "iso8859-2", "iso88592", "iso_8859-2", "iso_8859-2:1987", "l2", "latin2")),
    "ISO-8859-3": ("iso8859_3", ("csisolatin3", "iso-8859-3", "iso-ir-109", "iso8859-3", "iso88593", "iso_8859-3", "iso_8859-3:1988", "l3", "latin3")),
    "ISO-8859-4": ("iso8859_4", ("csisolatin4", "iso-8859-4", "iso-ir-110", "iso8859-4", "iso88594", "iso_8859-4", "iso_8859-4:1988", "l4", "latin4")),
    "ISO-8859-5": ("iso8859_5", ("csisolatincyrillic", "cyrillic", "iso-8859-5", "iso-ir-144", "iso8859-5", "iso88595", "iso_8859-5", "iso_8859-5:1988")),
    "ISO-8859-6": ("iso8859_6", ("arabic", "asmo-708", "csiso88596e", "csiso88596i", "csisolatinarabic", "ecma-114", "iso-8859-6", "iso-8859-6-e", "iso-8859-6-i", "iso-ir-127", "iso8859-6", "iso88596", "iso_8859-6", "iso_8859-6:1987")),
    "ISO-8859-7": ("iso8859_7", ("csisolatingreek", "ecma-118", "elot_928", "greek", "greek8", "iso-8859-7", "iso-ir-126", "iso8859-7", "iso88597", "iso_8859-7", "iso_8859-7:1987", "sun_eu_greek")),
    "ISO-8859-8": ("iso8859_8", ("csiso88598e", "csisolatinhebrew", "hebrew", "iso-8859-8", "iso-8859-8-e", "iso-ir-138", "iso8859-8", "iso88598", "iso_8859-8", "iso_8859-8:1988", "visual")),
    "ISO-8859-8-I": ("iso8859_8", ("csiso88598i", "iso-8859-8-i", "logical")),
    "ISO-8859-10": ("iso8859_10", ("csisolatin6", "iso-8859-10", "iso-ir-157", "iso8859-10", "iso885910", "l6", "latin6")),
    "ISO-8859-13": ("iso8859_13", ("iso-8859-13", "iso8859-13", "iso885913")),
    "ISO-8859-14": ("iso8859_14", ("iso-8859-14", "iso8859-14", "iso885914")),
    "ISO-8859-15": ("iso8859_15", ("csisolatin9", "iso-8859-15", "iso8859-15", "iso885915", "iso_8859-15", "l9")),
    "ISO-8859-16": ("iso8859_16", ("iso-8859-16",)),
    "KOI8-R": ("koi8_r", ("cskoi8r", "koi", "koi8", "koi8-r", "koi8_r")),
    "KOI8-U": ("koi8_u", ("koi8-ru", "koi8-u")),
    "macintosh": ("mac_roman", ("csmacintosh", "mac", "macintosh", "x-mac-roman")),
    "windows-874": ("cp874", ("dos-874", "iso-8859-11", "iso8859-11", "iso885911", "tis-620", "windows-874")),
    "windows-1250": ("cp1250", ("cp1250", "windows-1250", "x-cp1250")),
    "windows-1251": ("cp1251", ("cp1251", "windows-1251", "x-cp1251")),
    "windows-1252": ("cp1252", ("ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819", "iso-8859-1", "iso-ir-100", "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1", "latin1", "us-ascii", "windows-1252", "x-cp1252")),
    "windows-1253": ("cp1253", ("cp1253", "windows-1253", "x-cp1253")),
    "windows-1254": ("cp1254", ("cp1254", "csisolatin5", "iso-8859-9", "iso-ir-148", "iso8859-9", "iso88599", "iso_8859-9", "iso_8859-9:1989", "l5", "latin5", "windows-1254", "x-cp1254")),
    "windows-1255": ("cp1255", ("cp1255", "windows-1255", "x-cp1255")),
    "windows-1256": ("cp1256", ("cp1256", "windows-1256", "x-cp1256")),
    "windows-1257": ("cp1257", ("cp1257", "windows-1257", "x-cp1257")),
    "windows-1258": ("cp1258", ("cp1258", "windows-1258", "x-cp1258")),
    "x-mac-cyrillic": ("mac_cyrillic", ("x-mac-cyrillic", "x-mac-ukrainian")),
    # The Encoding Standard's GBK decoder is its gb18030 decoder.
    "GBK": ("gb18030", ("chinese", "csgb2312", "csiso58gb231280", "gb2312", "gb_2312", "gb_2312-80", "gbk", "iso-ir-58", "x-gbk")),
    "gb18030": ("gb18030", ("gb18030",)),
    "Big5": ("big5hkscs", ("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5")),
    "EUC-JP": ("euc_jp", ("cseucpkdfmtjapanese", "euc-jp", "x-euc-jp")),
    "ISO-2022-JP": ("iso2022_jp", ("csiso2022jp", "iso-2022-jp")),
    "Shift_JIS": ("cp932", ("csshiftjis", "ms932", "ms_kanji", "shift-jis", "shift_jis", "sjis", "windows-31j", "x-sjis")),
    "EUC-KR": ("cp949", ("cseuckr", "csksc56011987", "euc-kr", "iso-ir-149", "korean", "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601", "ksc_5601", "windows-949")),
    "replacement": ("", ("csiso2022kr", "hz-gb-2312", "iso-2022-cn", "iso-2022-cn-ext", "iso-2022-kr")),
    "UTF-16BE": ("utf-16-be", ("unicodefffe", "utf-16be")),
    "UTF-16LE": ("utf-16-le", ("csunicode", "iso-10646-ucs-2", "ucs-2", "unicode", "unicodefeff", "utf-16", "utf-16le")),
    "x-user-defined": ("latin-1", ("x-user-defined",)),
}

_BY_LABEL: dict[str, str] = {label: name for name, (_, labels) in _ENCODINGS.items() for label in labels}

# Encodings whose bytes depend on a shift state: cutting bytes out of them is not safe.
STATEFUL = frozenset({"ISO-2022-JP", "replacement"})

_BOMS = ((b"\xef\xbb\xbf", "UTF-8"), (b"\xfe\xff", "UTF-16BE"), (b"\xff\xfe", "UTF-16LE"))

_PRESCAN_BYTES = 1024
_XML_DECLARATION = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_HTML_SPACE = "\t\n\f\r "
_CHARSET_IN_CONTENT = re.compile(r"charset[\t\n\f\r ]*=[\t\n\f\r ]*(?:\"([^\"]*)\"|'([^']*)'|([^\t\n\f\r ;\"']+))", re.IGNORECASE)
# Comments, bogus comments, and tag names (a tag's attributes are then read by `_read_attributes`).
_PRESCAN_TOKEN = re.compile(r"<!--.*?-->|</?[a-zA-Z][^\t\n\f\r />]*|<[!/?][^>]*>?", re.DOTALL)
_PRESCAN_ATTR = re.compile(
    r"[\t\n\f\r /]*(?P<name>>|[^\t\n\f\r />][^\t\n\f\r /=>]*)"
    r"(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<uq>[^\t\n\f\r >]*)))?"
)


@dataclass(frozen=True, slots=True)
class PageEncoding:
    """How a page's bytes are read: the WHATWG name, the Python codec, where it was found, the BOM length."""

    name: str
    codec: str
    source: str  # "bom", "header", "meta", "xml" or "default"
    bom_length: int = 0

    @property
    def stateful(self) -> bool:
        return self.name in STATEFUL


def lookup(label: str | None) -> str | None:
    """The WHATWG encoding name for a label (case and surrounding space ignored), or None."""
    if not label:
        return None
    return _BY_LABEL.get(label.strip(_HTML_SPACE).lower())


def codec_for(name: str) -> str:
    """The Python codec that decodes a WHATWG encoding name."""
    return _ENCODINGS[name][0]


def charset_from_content_type(content_type: str | None) -> str | None:
    """The `charset` parameter of a Content-Type header value, unquoted, or None."""
    if not content_type:
        return None
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'").strip() or None
    return None


def detect(body: bytes, content_type: str | None = None) -> PageEncoding:
    """Decide a page's encoding: BOM, else Content-Type charset, else `<meta>` prescan, else sniffed."""
    return decode_page(body, content_type, keep_text=False)[0]


def text_encoding(body: bytes, content_type: str | None = None) -> PageEncoding:
    """How a script, style sheet or JSON body is read: BOM, else Content-Type charset, else UTF-8."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return PageEncoding(name, codec_for(name), "bom", len(bom))
    name = lookup(charset_from_content_type(content_type))
    if name is not None:
        return PageEncoding(name, codec_for(name), "header")
    return PageEncoding("UTF-8", "utf-8", "default")


def decode_page(body: bytes, content_type: str | None = None, *, keep_text: bool = True) -> tuple[PageEncoding, str, bool]:
    """The page's encoding and its text (see `decode`), and whether every byte decoded cleanly."""
    # When the bytes decode cleanly the text has no lone surrogates, which spares callers a scan.
    encoding = _declared(body, content_type)
    if encoding is None:
        # Nothing declared: UTF-8 if the bytes are valid UTF-8, else the Western default.
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            encoding = PageEncoding("windows-1252", "cp1252", "default")
        else:
            return PageEncoding("UTF-8", "utf-8", "default"), text, True
    if not keep_text:
        return encoding, "", False
    if not encoding.codec:
        return encoding, "", False
    try:
        return encoding, body[encoding.bom_length :].decode(encoding.codec), True
    except UnicodeDecodeError:
        return encoding, decode(body, encoding), False


def _declared(body: bytes, content_type: str | None) -> PageEncoding | None:
    """The encoding from the BOM, the Content-Type charset or a `<meta>`, or None."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return PageEncoding(name, codec_for(name), "bom", len(bom))
    name = lookup(charset_from_content_type(content_type))
    if name is not None:
        return PageEncoding(name, codec_for(name), "header")
    if (content_type or "").partition(";")[0].strip().lower() == "application/xhtml+xml":
        # Browsers read XHTML with an XML parser: the XML declaration decides, else UTF-8; <meta> does not.
        declared = _XML_DECLARATION.match(body)
        name = lookup(declared.group(1).decode("latin-1")) if declared else None
        return PageEncoding(name, codec_for(name), "xml") if name else PageEncoding("UTF-8", "utf-8", "xml")
    name = prescan_meta(body)
    if name is not None:
        return PageEncoding(name, codec_for(name), "meta")
    return None


def prescan_meta(body: bytes) -> str | None:
    """The encoding a `<meta charset>` or `<meta http-equiv=content-type>` in the first 1024 bytes declares."""
    head = body[:_PRESCAN_BYTES].decode("latin-1")
    position = 0
    while True:
        token = _PRESCAN_TOKEN.search(head, position)
        if token is None:
            return None
        text = token.group(0)
        position = token.end()
        if text.startswith(("<!", "<?")) or (text.startswith("</") and len(text) > 2 and not text[2].isalpha()):
            continue
        # A start or end tag: its attributes are read (and skipped) so that markup inside them is not seen.
        attributes, position = _read_attributes(head, position)
        if text.lower() != "<meta":
            continue
        name = _meta_encoding(attributes)
        if name is not None:
            # A page cannot really declare UTF-16 in an ASCII-readable <meta>: the standard reads UTF-8.
            if name in ("UTF-16BE", "UTF-16LE"):
                return "UTF-8"
            if name == "x-user-defined":
                return "windows-1252"
            return name


def _read_attributes(head: str, position: int) -> tuple[dict[str, str], int]:
    """A tag's attributes from `position` up to its `>` (first occurrence of a name wins)."""
    attributes: dict[str, str] = {}
    while position < len(head):
        match = _PRESCAN_ATTR.match(head, position)
        if match is None or match.end() == position:
            break
        position = match.end()
        name = match.group("name")
        if name == ">":
            break
        value = match.group("dq")
        if value is None:
            value = match.group("sq")
        if value is None:
            value = match.group("uq") or ""
        attributes.setdefault(name.lower(), value)
    return attributes, position


def _meta_encoding(attributes: dict[str, str]) -> str | None:
    if "charset" in attributes:
        return lookup(attributes["charset"])
    if attributes.get("http-equiv", "").strip(_HTML_SPACE).lower() == "content-type" and "content" in attributes:
        found = _CHARSET_IN_CONTENT.search(attributes["content"])
        if found:
            return lookup(found.group(1) or found.group(2) or found.group(3))
    return None


def decode(body: bytes, encoding: PageEncoding) -> str:
    """The page as text, one character per decoded character; undecodable bytes become lone surrogates."""
    # `surrogateescape` keeps every byte accounted for, so offsets in this text map back to the original bytes
    # exactly (see `ByteOffsets`).
    return body[encoding.bom_length :].decode(encoding.codec, "surrogateescape")


# Codecs whose strict decoding is a one-to-one map of byte sequences to text (no two byte
# sequences decode alike): UTF-8/16 and the single-byte tables. The CJK codecs have duplicates.
_ROUND_TRIP = frozenset({"utf-8", "utf-16-le", "utf-16-be", "latin-1"}) | frozenset(
    codec for codec, _ in _ENCODINGS.values() if codec.startswith(("cp12", "cp8", "iso8859", "koi8", "mac_"))
)


def round_trips(encoding: PageEncoding) -> bool:
    """Whether text strictly decoded with this encoding encodes back to the very same bytes."""
    return encoding.codec in _ROUND_TRIP


class ByteOffsets:
    """Maps character offsets in decoded text back to byte offsets in the original body."""
    # Offsets must be asked for in ascending order; each call encodes only the text since the previous one, so
    # mapping all the cut points of a page costs one pass over it.

    def __init__(self, text: str, encoding: PageEncoding):
        self._text = text
        self._codec = encoding.codec
        self._char = 0
        self._byte = encoding.bom_length

    def __call__(self, char_offset: int) -> int:
        if char_offset < self._char:
            raise ValueError("byte offsets must be asked for in ascending order")
        if char_offset > self._char:
            self._byte += len(self._text[self._char : char_offset].encode(self._codec, "surrogateescape"))
            self._char = char_offset
        return self._byte
