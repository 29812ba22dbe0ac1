"""A non-root user runs a container imported from a local tarball."""
import os

INVENTORY = os.environ["INDIGO_MOLECULE_INVENTORY"]
testinfra_hosts = [f"ansible://udocker_hosts?ansible_inventory={INVENTORY}"]


def test_image_imported_for_the_user(host):
    assert "local/busybox:1" in host.check_output("runuser -u tester -- udocker images")


def test_container_runs_without_root(host):
    out = host.check_output("cd /tmp && runuser -u tester -- udocker run local/busybox:1 /bin/busybox id -un")
    assert out.strip().splitlines()[-1] in ("tester", "root")  # proot may map to root inside; never real root
    assert host.check_output("runuser -u tester -- udocker run local/busybox:1 /bin/busybox echo hello").strip().endswith("hello")
