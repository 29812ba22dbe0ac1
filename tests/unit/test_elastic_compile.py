"""The cached worker image of elastic pools: the package list the compiler asks the site for is the one the
worker's role installs, and the local site keys its package layers by that list."""

from __future__ import annotations

from pathlib import Path

import yaml

from tosca2ansible.compiler import elastic
from tosca2ansible.runtime.localsite import LocalSiteConfig
from tosca2ansible.runtime.localsite import image

ROLES = Path(__file__).resolve().parents[2] / "collections/ansible_collections/indigo/paas/roles"


def test_worker_packages_are_what_the_worker_roles_install_on_debian():
    slurm = yaml.safe_load((ROLES / "slurm/vars/Debian.yml").read_text())
    assert elastic.WORKER_PACKAGES["slurm"] == slurm["slurm_packages_by_role"]["worker"]
    htcondor = yaml.safe_load((ROLES / "htcondor/vars/Debian.yml").read_text())
    assert elastic.WORKER_PACKAGES["htcondor"] == htcondor["htcondor_packages"]


def test_a_pool_worker_asks_for_its_packages_unless_the_template_names_an_image():
    pool = elastic.Pool(node="ec", lrms="slurm", front_end="fe", front_end_compute="srv", worker="wn",
                        worker_compute="lrms_wn", min_instances=1, max_instances=3, idle_time=30,
                        boot_timeout=600, max_booting=3, node_cpus=1, node_mem_mb=1024)
    args = elastic.worker_instance_args(pool, "lrms_wn", {"node": "lrms_wn", "count": 0})
    assert args == {"node": "lrms_wn", "indexes": [0], "cached_packages": ["munge", "slurmd", "slurm-client"]}
    assert "cached_packages" not in elastic.worker_instance_args(pool, "lrms_wn", {"node": "lrms_wn", "image": "ami-1"})
    assert elastic.worker_instance_args(pool, "srv", {"node": "srv", "count": 1}) == {"node": "srv", "count": 1}


def test_layer_key_is_the_suite_and_the_package_set(tmp_path):
    cfg = LocalSiteConfig(state_dir=str(tmp_path))
    key = image.layer_key(cfg, ["slurmd", "munge", "slurm-client"])
    assert key == image.layer_key(cfg, ["munge", "slurm-client", "slurmd", "munge"])  # order, duplicates
    assert key != image.layer_key(cfg, ["munge", "slurmd"])  # the role's list changed: a new layer
    assert key != image.layer_key(LocalSiteConfig(state_dir=str(tmp_path), suite="bookworm"), ["munge", "slurmd", "slurm-client"])
    assert key.startswith("debian-trixie+")
    assert image.lower_dirs(cfg, None) == str(cfg.image_dir)
    assert image.lower_dirs(cfg, key) == "%s/layers/%s/upper:%s" % (tmp_path, key, cfg.image_dir)
    assert not image.layer_ready(cfg, key)
