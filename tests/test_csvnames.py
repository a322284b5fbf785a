"""The CSV reader of DeviceNames: every encoding, line end and mistake a real file brings."""
import codecs
import io
import zipfile

import pytest

from flask_babel import force_locale

from ota.services import csvnames
from ota.services.csvnames import read_device_names, valid_device_name


@pytest.mark.parametrize("name", ["a", "A" * 48, "dev_01-x.y:z@w", "0", "gw.01"])
def test_valid_device_names(name):
    assert valid_device_name(name)


@pytest.mark.parametrize("name", ["", "A" * 49, "dev 1", "设备1", "dev/1", "dev,1", "dev#1", "dév", "a\tb"])
def test_invalid_device_names(name):
    assert not valid_device_name(name)


def test_plain_utf8_without_header():
    r = read_device_names(b"dev1\ndev2\n")
    assert r.names == ["dev1", "dev2"] and r.lines == {"dev1": 1, "dev2": 2}
    assert r.ok and not r.header and r.errors == [] and not r.too_many


def test_utf8_with_bom_and_header():
    r = read_device_names(codecs.BOM_UTF8 + b"DeviceName\r\ndev1\r\n")
    assert r.names == ["dev1"] and r.header and r.lines["dev1"] == 2


@pytest.mark.parametrize("header", ["DeviceName", "devicename", "Device Name", " DEVICE_NAME ", "设备名称"])
def test_header_variants_are_skipped(header):
    r = read_device_names(f"{header}\nd1\n".encode())
    assert r.header and r.names == ["d1"]


def test_excel_chinese_gb18030_with_crlf():
    """What Chinese Excel writes for "CSV (逗号分隔)": GBK bytes, CRLF, a Chinese header, extra columns."""
    text = "设备名称,备注\r\ncam-001,一楼\r\ncam-002,二楼\r\n"
    data = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really not UTF-8
    r = read_device_names(data)
    assert r.header and r.names == ["cam-001", "cam-002"] and r.lines == {"cam-001": 2, "cam-002": 3}


def test_gbk_chinese_value_is_reported_readably():
    r = read_device_names("设备名称\r\n摄像头1\r\n".encode("gbk"))
    assert r.errors == [(2, "invalid_name", "摄像头1")]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_bom_tab_separated(encoding):
    """Excel's "Unicode text" is UTF-16 with a BOM and tabs between the columns."""
    bom = {"utf-16": b"", "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}[encoding]
    data = bom + "DeviceName\tNote\r\nd1\tfirst\r\nd2\tsecond\r\n".encode(encoding)
    assert read_device_names(data).names == ["d1", "d2"]


@pytest.mark.parametrize("end", ["\r\n", "\r", "\n"])
def test_line_ends(end):
    r = read_device_names(end.join(["DeviceName", "a", "b", "c"]).encode() + end.encode())
    assert r.names == ["a", "b", "c"] and r.lines == {"a": 2, "b": 3, "c": 4}


def test_mixed_line_ends_keep_physical_line_numbers():
    r = read_device_names(b"a\r\nb\rc\nbad name\r\n")
    assert r.lines == {"a": 1, "b": 2, "c": 3} and r.errors == [(4, "invalid_name", "bad name")]


def test_blank_lines_and_empty_cells_are_skipped_but_counted():
    r = read_device_names(b"\n\nDeviceName\n\n  \n,,\nd1\n\n\nd2\n\n")
    assert r.header and r.names == ["d1", "d2"] and r.lines == {"d1": 7, "d2": 10} and r.ok


def test_surrounding_spaces_are_stripped():
    r = read_device_names("  d1  \n\td2\t\n\u3000d3\u00a0\n".encode())
    assert r.names == ["d1", "d2", "d3"] and r.ok


def test_row_without_a_name_is_reported():
    r = read_device_names(b"d1,note\n,orphan note\n")
    assert r.names == ["d1"] and r.errors == [(2, "missing_name", "")]


def test_quoted_cells():
    r = read_device_names(b'"DeviceName","Note"\n"d1","a, b"\n" d2 ",x\n"d""3",y\n')
    assert r.names == ["d1", "d2"] and r.errors == [(4, "invalid_name", 'd"3')]


def test_extra_columns_are_ignored_first_column_is_the_name():
    assert read_device_names(b"d1,1.0.0,x\nd2,,\n").names == ["d1", "d2"]


def test_header_only_on_the_first_row():
    r = read_device_names(b"d1\nDeviceName\n")
    assert r.names == ["d1", "DeviceName"]


def test_xlsx_renamed_to_csv_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    r = read_device_names(buf.getvalue())
    assert r.errors == [(0, "not_text", "")] and r.file_error == "not_text" and not r.ok


@pytest.mark.parametrize("data", [
    b"dev1\x00\x00\x01\x02\n", bytes(range(256)), b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", b"\x80\xff\xfe\x81",
    b"\x1f\x8b\x08\x00gzip",
])
def test_binary_is_refused(data):
    assert read_device_names(data).file_error == "not_text"


@pytest.mark.parametrize("data", [b"", b"\n\r\n  \n", codecs.BOM_UTF8, b"DeviceName\r\n", b",,\n"])
def test_empty_file(data):
    r = read_device_names(data)
    assert r.errors == [(0, "empty", "")] and r.names == []


def test_too_large_is_refused_before_parsing():
    r = read_device_names(b"a\n" * (csvnames.MAX_BYTES // 2 + 1))
    assert r.file_error == "too_large"
    assert read_device_names(b"a" * 10 + b"\n" * (csvnames.MAX_BYTES - 10)).file_error is None


def test_invalid_names_reported_with_their_line():
    r = read_device_names(("ok1\n" + "x" * 49 + "\n" + "y" * 48 + "\nbad/name\n").encode())
    assert r.names == ["ok1", "y" * 48]
    assert r.errors == [(2, "invalid_name", "x" * 49), (4, "invalid_name", "bad/name")]
    assert not r.ok


def test_long_values_are_cut_in_errors():
    r = read_device_names(("z" * 500 + "\n").encode())
    assert r.errors[0][2] == "z" * 80 + "…"


def test_duplicates_folded_first_kept():
    r = read_device_names(b"b\na\nb\nc\na\n")
    assert r.names == ["b", "a", "c"] and r.lines == {"b": 1, "a": 2, "c": 4}
    assert r.duplicates == [("b", 3), ("a", 5)] and r.ok


def test_names_are_case_sensitive():
    assert read_device_names(b"Dev\ndev\n").names == ["Dev", "dev"]


def test_max_rows_exactly_passes_one_more_is_too_many():
    names = "\n".join(f"d{i}" for i in range(10_000)).encode()
    assert not read_device_names(names, max_rows=10_000).too_many
    over = read_device_names(names + b"\nextra", max_rows=10_000)
    assert over.too_many and not over.ok


def test_max_rows_counts_distinct_names():
    assert not read_device_names(b"a\nb\na\nb\n", max_rows=2).too_many
    assert read_device_names(b"a\nb\nc\n", max_rows=2).too_many


def test_ten_thousand_names_parse():
    data = ("DeviceName\r\n" + "".join(f"device-{i:05d}\r\n" for i in range(10_000))).encode()
    r = read_device_names(data, max_rows=10_000)
    assert len(r.names) == 10_000 and r.ok


def test_messages_in_both_languages(app):
    with app.test_request_context(), force_locale("en"):
        assert "not a valid DeviceName" in str(csvnames.describe_error("invalid_name", "a b"))
        assert str(csvnames.describe_line(3, "invalid_name", "a b")).startswith("Line 3: “a b”")
        assert "10000" in str(csvnames.describe_error("too_many", "10000"))
    with app.test_request_context(), force_locale("zh"):
        assert "第 3 行" in str(csvnames.describe_line(3, "invalid_name", "a b"))
        for code in ("not_text", "empty", "too_large", "bad_row", "missing_name", "duplicate", "too_many"):
            message = str(csvnames.describe_error(code, "x"))
            assert message and not message.isascii(), code


def test_a_row_too_long_for_csv_is_reported_and_the_rest_read():
    r = read_device_names(b"d1\n" + b"x" * 200_000 + b"\nd2\n")
    assert r.names == ["d1", "d2"] and r.errors == [(2, "bad_row", "")]


def test_the_size_limit_can_be_lifted_for_the_cli():
    data = b"a\n" * (csvnames.MAX_BYTES // 2 + 1)
    assert read_device_names(data, max_bytes=None).names == ["a"]
    assert read_device_names(b"abc\n", max_bytes=4).ok and read_device_names(b"abc\n", max_bytes=3).file_error == "too_large"
