"""A non-root user runs a container imported from a local tarball."""
import os

INVENTORY = os.environ["INDIGO_MOLECULE_INVENTORY"]
testinfra_hosts = [f"ansible://udocker_hosts?ansible_inventory={INVENTORY}"]


def test_image_imported_for_the_user(host):
    assert "local/busybox:1" in host.check_output("runuser -u tester -- udocker images")


def test_container_runs_without_root(host):
    uid = host.check_output("id -u tester").strip()
    out = host.check_output("cd /tmp && runuser -u tester -- udocker run --nobanner local/busybox:1 /bin/busybox id -u")
    assert out.strip().splitlines()[-1] == uid  # the container's processes run as the unprivileged user
    hello = host.check_output("cd /tmp && runuser -u tester -- udocker run --nobanner local/busybox:1 /bin/busybox echo hello")
    assert hello.strip().splitlines()[-1] == "hello"
