"""decode_html: BOM, HTTP charset, document charset, detection; never mojibake, never an exception."""

from __future__ import annotations

import codecs

import pytest

from stripper import decode_html, extract_article

TEXT = "Café crème – naïve “quotes” ’apostrophe’ über Ärzte"
MOJIBAKE = ("Ã©", "â€™", "â€œ", "Ã¤", "Ã¼", "\ufffd")


def page(body: str, head: str = "") -> str:
    return f"<html><head>{head}<title>t</title></head><body><p>{body}</p></body></html>"


def assert_clean(text: str) -> None:
    assert TEXT in text
    for bad in MOJIBAKE:
        assert bad not in text


@pytest.mark.parametrize(
    "bom,codec", [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]
)
def test_bom_wins(bom: bytes, codec: str) -> None:
    data = bom + page(TEXT, '<meta charset="windows-1252">').encode(codec)
    assert_clean(decode_html(data, http_charset="iso-8859-2"))


def test_http_charset() -> None:
    data = page(TEXT).encode("cp1252")
    assert_clean(decode_html(data, http_charset="windows-1252"))
    assert_clean(decode_html(page(TEXT, '<meta charset="utf-8">').encode("cp1252"), http_charset="cp1252"))


def test_http_latin1_label_means_windows_1252() -> None:
    data = page("“quoted”").encode("cp1252")  # 0x93/0x94 are C1 controls in real ISO-8859-1
    assert "“quoted”" in decode_html(data, http_charset="ISO-8859-1")


def test_meta_charset_and_http_equiv() -> None:
    data = page(TEXT, '<meta charset="windows-1252">').encode("cp1252")
    assert_clean(decode_html(data))
    data = page(TEXT, '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">').encode("cp1252")
    assert_clean(decode_html(data))


def test_utf8_mislabelled_as_latin1() -> None:
    data = page(TEXT, '<meta charset="iso-8859-1">').encode("utf-8")
    assert_clean(decode_html(data))
    assert_clean(decode_html(data, http_charset="ISO-8859-1"))


def test_utf8_without_declaration() -> None:
    assert_clean(decode_html(page(TEXT).encode("utf-8")))


def test_detected_windows_1252_without_declaration() -> None:
    body = " ".join([TEXT] * 20)
    assert_clean(decode_html(page(body).encode("cp1252")))


def test_wrong_http_utf8_label_falls_back() -> None:
    body = " ".join([TEXT] * 20)
    assert_clean(decode_html(page(body).encode("cp1252"), http_charset="utf-8"))


def test_other_scripts() -> None:
    ru = "Здоровье и питание: советы врачей"
    assert ru in decode_html(page(ru, '<meta charset="windows-1251">').encode("cp1251"))
    ja = "健康と栄養についての記事です"
    assert ja in decode_html(page(ja, '<meta charset="shift_jis">').encode("shift_jis"))


def test_unknown_charset_label_does_not_raise() -> None:
    assert_clean(decode_html(page(TEXT, '<meta charset="x-no-such-charset">').encode("utf-8"), http_charset="bogus"))


def test_garbage_bytes_never_raise() -> None:
    for data in (b"\xff\xfe\xfd" * 100, bytes(range(256)) * 10, b"\x80" * 1000, b""):
        assert isinstance(decode_html(data), str)


def test_nul_bytes_dropped() -> None:
    assert "\x00" not in decode_html(b"<p>a\x00b</p>")


def test_extract_article_has_no_mojibake() -> None:
    body = "<p>" + TEXT + " " + "Mehr Text über Gesundheit und Ernährung für alle Leser. " * 5 + "</p>"
    html = page(body, '<meta charset="iso-8859-1">').encode("cp1252")
    text = extract_article(html)["text"]
    assert_clean(text)
