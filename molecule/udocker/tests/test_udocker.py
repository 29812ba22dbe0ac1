"""A non-root user runs a container imported from a local tarball, offline, with Debian's proot."""
import os

INVENTORY = os.environ["INDIGO_MOLECULE_INVENTORY"]
testinfra_hosts = [f"ansible://udocker_hosts?ansible_inventory={INVENTORY}"]

RUN = "cd /tmp && runuser -u tester -- udocker --quiet run --rm --nobanner local/busybox:1 /bin/busybox"


def test_image_imported_for_the_user(host):
    assert "local/busybox:1" in host.check_output("runuser -u tester -- udocker images")


def test_container_runs_as_the_unprivileged_user(host):
    uid = host.check_output("id -u tester").strip()
    # /proc/self/status is the kernel's view of the container process (proot does not fake it).
    status = host.check_output(f"{RUN} cat /proc/self/status")
    real_uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert set(real_uids) == {uid}, status
    assert host.check_output(f"{RUN} echo hello").strip().splitlines()[-1] == "hello"


def test_nothing_was_downloaded(host):
    # The engine is Debian's proot: no udocker tools tarball was installed in the user's repository.
    assert host.check_output("find ~tester/.udocker/bin ~tester/.udocker/lib -mindepth 1").strip() == ""
    assert "/usr/bin/proot" in host.file("/etc/udocker.conf").content_string
