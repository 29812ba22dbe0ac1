"""slurm.conf rendered from inventory groups and node facts (golden files)."""
import re

from role_render import check_golden, debian_facts, render

HOSTS = {
    "fe": debian_facts("slurm-fe-0", "10.77.0.10", cpus=1, mem_mb=1024),
    "wn0": debian_facts("slurm-wn-0", "10.77.0.11", cpus=2, mem_mb=2048),
    "wn1": debian_facts("slurm-wn-1", "10.77.0.12", cpus=4, mem_mb=8192),
}
GROUPS = {"front": ["fe"], "workers": ["wn0", "wn1"]}


def test_slurm_conf_from_groups_and_facts(tmp_path):
    out = render("slurm", {"slurm.conf.j2": "slurm.conf"}, HOSTS, GROUPS, "fe",
                 {"slurm_controller_group": "front", "slurm_worker_group": "workers", "slurm_node_role": "controller",
                  "slurm_proctrack_type": "proctrack/linuxproc", "slurm_task_plugin": "task/none"}, tmp_path)
    conf = out["slurm.conf"]
    assert "SlurmctldHost=slurm-fe-0(10.77.0.10)" in conf
    assert "NodeName=slurm-wn-0 NodeAddr=10.77.0.11 CPUs=2 RealMemory=1920 State=UNKNOWN" in conf
    assert "NodeName=slurm-wn-1 NodeAddr=10.77.0.12 CPUs=4 RealMemory=8064 State=UNKNOWN" in conf
    assert "ProctrackType=proctrack/linuxproc" in conf and "TaskPlugin=task/none" in conf
    assert "SuspendProgram" not in conf  # power saving off by default
    assert not re.search(r"NodeName=slurm-fe-0", conf)  # the controller is not a compute node
    check_golden("slurm/nspawn", out)


def test_slurm_conf_power_saving_and_cloud_nodes(tmp_path):
    out = render("slurm", {"slurm.conf.j2": "slurm.conf"}, HOSTS, GROUPS, "wn0",
                 {"slurm_controller_group": "front", "slurm_worker_group": "workers",
                  "slurm_suspend_program": "/usr/local/sbin/suspend", "slurm_resume_program": "/usr/local/sbin/resume",
                  "slurm_suspend_time": 600, "slurm_cloud_nodes": [{"name": "wn-9", "cpus": 2, "real_memory": 2000}]},
                 tmp_path)
    conf = out["slurm.conf"]
    assert "SuspendProgram=/usr/local/sbin/suspend" in conf and "SuspendTime=600" in conf
    assert "NodeName=wn-9 CPUs=2 RealMemory=2000 State=CLOUD" in conf
    assert "ProctrackType=proctrack/cgroup" in conf
    check_golden("slurm/elastic", out)
