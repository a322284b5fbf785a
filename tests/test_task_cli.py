"""`flask ota task create|show`."""
from ota.extensions import db
from ota.models import UpgradeTask
from tests.task_fixtures import add_devices, records, run_jobs, world  # noqa: F401


def test_cli_create_by_version_and_show(app, world):
    add_devices(world.product, 4)
    runner = app.test_cli_runner()
    r = runner.invoke(args=["ota", "task", "create", "--firmware", str(world.fw.id), "--from-version", "1.0.0",
                            "--devices", "dev_00001,dev_00002", "--push-rate", "100"])
    assert r.exit_code == 0, r.output
    tid = int(r.output.strip())
    run_jobs()
    assert len(records(tid)) == 2 and db.session.get(UpgradeTask, tid).push_rate == 100
    r = runner.invoke(args=["ota", "task", "show", str(tid)])
    assert r.exit_code == 0 and f"task {tid}: created" in r.output and "pushed: 2" in r.output


def test_cli_create_from_csv_and_refusals(app, world, tmp_path):
    add_devices(world.product, 2)
    good = tmp_path / "ok.csv"
    good.write_bytes(b"DeviceName\ndev_00000\ndev_00001\ndev_00000\n")
    runner = app.test_cli_runner()
    r = runner.invoke(args=["ota", "task", "create", "--firmware", str(world.fw.id), "--csv", str(good)])
    assert r.exit_code == 0, r.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"ghost\n")
    r = runner.invoke(args=["ota", "task", "create", "--firmware", str(world.fw.id), "--csv", str(bad)])
    assert r.exit_code != 0 and "ghost" in r.output
    r = runner.invoke(args=["ota", "task", "create", "--firmware", str(world.fw.id), "--from-version", "1.0.0", "--timeout", "5"])
    assert r.exit_code != 0 and "timeout" in r.output
    assert UpgradeTask.query.count() == 1
