"""`flask ota firmware add|list|cleanup`: same rules as the console, clear errors, exit codes."""
import hashlib

from ota.extensions import db
from ota.models import Firmware
from tests.firmware_fixtures import assert_no_stray_files, payload, product  # noqa: F401


def test_add_prints_the_new_id_and_list_shows_it(app, product, tmp_path):
    data = payload("gzip", 10_000)
    f = tmp_path / "doorcam-1.2.0.tar.gz"
    f.write_bytes(data)
    runner = app.test_cli_runner()
    r = runner.invoke(args=["ota", "firmware", "add", "--product", product.code, "--version", "1.2.0",
                            "--name", "门铃（正式）", "--description", "CLI", str(f)])
    assert r.exit_code == 0, r.output
    fw = db.session.get(Firmware, int(r.output.strip()))
    assert fw.md5 == hashlib.md5(data).hexdigest() and fw.filename == f.name and fw.created_by_id is None
    r = runner.invoke(args=["ota", "firmware", "list", "--product", product.code])
    assert r.exit_code == 0 and f"{fw.id}\t{product.code}\t1.2.0\t{len(data)}\t{fw.md5}" in r.output
    assert_no_stray_files(app)


def test_add_refuses_bad_input_with_a_clear_error(app, product, tmp_path):
    good = tmp_path / "a.bin"
    good.write_bytes(b"\x01")
    fake = tmp_path / "a.zip"
    fake.write_bytes(b"not a zip")
    runner = app.test_cli_runner()
    base = ["ota", "firmware", "add", "--product", product.code, "--version", "1.0", "--name", "ok"]
    cases = [
        (["ota", "firmware", "add", "--product", "NOSUCHPROD", "--version", "1", "--name", "a", str(good)], "NOSUCHPROD"),
        (base[:-1] + ["_bad", str(good)], "must start"),
        (base[:6] + ["1" * 33, "--name", "ok", str(good)], "at most 32"),
        (base + [str(fake)], "not a zip"),
        (base + ["--description", "d" * 101, str(good)], "at most 100"),
    ]
    for args, message in cases:
        r = runner.invoke(args=args)
        assert r.exit_code != 0 and message in r.output, (args, r.output)
    assert db.session.execute(db.select(Firmware)).first() is None
    assert runner.invoke(args=base + [str(good)]).exit_code == 0
    r = runner.invoke(args=base + [str(good)])
    assert r.exit_code != 0 and "version: This product already has firmware version 1.0" in r.output
    assert_no_stray_files(app)


def test_cleanup_reports_what_it_removed(app):
    r = app.test_cli_runner().invoke(args=["ota", "firmware", "cleanup"])
    assert r.exit_code == 0 and "removed 0" in r.output
