"""Rendered configuration of the cluster roles, with their defaults and fixed facts (golden files).

Mesos, Marathon, Chronos and marathon-lb cannot run here: these renderings are their main test.
"""
import json

from role_render import check_golden, debian_facts, render

THREE = {f"m{i}": debian_facts(f"master-{i}", f"10.77.0.{20 + i}") for i in range(3)}
WORKERS = {f"w{i}": debian_facts(f"wn-{i}", f"10.77.0.{30 + i}") for i in range(2)}


def test_htcondor_central_manager_and_execute(tmp_path):
    hosts = {"fe": debian_facts("fe", "10.77.0.10"), **WORKERS}
    groups = {"htcondor_central_manager": ["fe"], "workers": ["w0", "w1"]}
    cm = render("htcondor", {"50-indigo.conf.j2": "50-indigo.conf"}, hosts, groups, "fe",
                {"htcondor_node_roles": ["central_manager", "submit"]}, tmp_path / "cm")
    wn = render("htcondor", {"50-indigo.conf.j2": "50-indigo.conf"}, hosts, groups, "w0",
                {"htcondor_node_roles": ["execute"], "htcondor_use_cgroups": False}, tmp_path / "wn")
    assert "CONDOR_HOST = 10.77.0.10" in cm["50-indigo.conf"]
    assert "use ROLE : CentralManager" in cm["50-indigo.conf"] and "use ROLE : Submit" in cm["50-indigo.conf"]
    assert "use ROLE : Execute" not in cm["50-indigo.conf"]
    assert "use ROLE : Execute" in wn["50-indigo.conf"] and "CGROUP_MEMORY_LIMIT_POLICY = none" in wn["50-indigo.conf"]
    for conf in (cm, wn):
        assert "USE_SHARED_PORT = True" in conf["50-indigo.conf"]
        assert "IDTOKENS" in conf["50-indigo.conf"]
    check_golden("htcondor/central_manager", cm)
    check_golden("htcondor/execute", wn)
    assert "INDIGO_SLOT" not in wn["50-indigo.conf"]


def test_htcondor_elastic_execute_node_advertises_its_slot(tmp_path):
    hosts = {"fe": debian_facts("fe", "10.77.0.10"), **WORKERS}
    groups = {"htcondor_central_manager": ["fe"], "workers": ["w0", "w1"]}
    wn = render("htcondor", {"50-indigo.conf.j2": "50-indigo.conf"}, hosts, groups, "w0",
                {"htcondor_node_roles": ["execute"], "htcondor_use_cgroups": False,
                 "htcondor_elastic_slot": "lrms-wn-1"}, tmp_path / "wn")["50-indigo.conf"]
    assert 'INDIGO_SLOT = "lrms-wn-1"' in wn
    assert "STARTD_ATTRS = $(STARTD_ATTRS) INDIGO_SLOT" in wn and "MASTER_ATTRS = $(MASTER_ATTRS) INDIGO_SLOT" in wn
    cm = render("htcondor", {"50-indigo.conf.j2": "50-indigo.conf"}, hosts, groups, "fe",
                {"htcondor_node_roles": ["central_manager", "submit"], "htcondor_negotiator_interval": 10},
                tmp_path / "cm")["50-indigo.conf"]
    assert "NEGOTIATOR_INTERVAL = 10" in cm and "INDIGO_SLOT" not in cm


def test_zookeeper_ensemble_of_three(tmp_path):
    out = render("zookeeper", {"zoo.cfg.j2": "zoo.cfg"}, THREE, {"zookeeper": ["m0", "m1", "m2"]}, "m1", {}, tmp_path)
    lines = out["zoo.cfg"].splitlines()
    assert [line for line in lines if line.startswith("server.")] == [
        "server.1=10.77.0.20:2888:3888", "server.2=10.77.0.21:2888:3888", "server.3=10.77.0.22:2888:3888"]
    check_golden("zookeeper/ensemble", out)


def test_zookeeper_standalone_has_no_server_lines(tmp_path):
    out = render("zookeeper", {"zoo.cfg.j2": "zoo.cfg"}, {"m0": THREE["m0"]}, {"zookeeper": ["m0"]}, "m0", {}, tmp_path)
    assert "server." not in out["zoo.cfg"] and "clientPort=2181" in out["zoo.cfg"]


def test_nfs_exports_and_ganesha(tmp_path):
    hosts = {"fe": debian_facts("fe", "10.77.0.10")}
    exports = [{"path": "/home", "clients": "10.77.0.0/24"}, {"path": "/scratch", "options": "ro,sync"}]
    out = render("nfs", {"exports.j2": "exports", "ganesha.conf.j2": "ganesha.conf"}, hosts, {"nfs_server": ["fe"]},
                 "fe", {"nfs_node_role": "server", "nfs_exports": exports}, tmp_path)
    assert "/home 10.77.0.0/24(rw,sync,no_subtree_check,no_root_squash)" in out["exports"]
    assert "/scratch *(ro,sync)" in out["exports"]
    assert out["ganesha.conf"].count("EXPORT {") == 2 and "Access_Type = RO;" in out["ganesha.conf"]
    check_golden("nfs/server", out)


def test_mesos_family_configuration(tmp_path):
    hosts = {**THREE, **WORKERS}
    groups = {"mesos_masters": ["m0", "m1", "m2"], "mesos_agents": ["w0", "w1"]}
    zk = "10.77.0.20:2181,10.77.0.21:2181,10.77.0.22:2181"
    mesos = render("mesos", {"zk.j2": "zk"}, hosts, groups, "w0", {"mesos_node_role": "agent"}, tmp_path / "mesos")
    assert mesos["zk"].splitlines()[-1] == f"zk://{zk}/mesos"
    marathon = render("marathon", {"marathon.env.j2": "marathon"}, hosts, groups, "m0", {}, tmp_path / "marathon")
    assert f"MARATHON_MASTER=zk://{zk}/mesos" in marathon["marathon"]
    assert f"MARATHON_ZK=zk://{zk}/marathon" in marathon["marathon"]
    assert "MARATHON_HTTP_CREDENTIALS" not in marathon["marathon"]
    lb = render("marathon_lb", {"marathon-lb.service.j2": "marathon-lb.service"}, hosts, groups, "w1", {},
                tmp_path / "lb")
    assert lb["marathon-lb.service"].count("--marathon http://10.77.0.2") == 3
    chronos = render("chronos", {"mesos_zk.j2": "zk"}, hosts, groups, "m0", {}, tmp_path / "chronos")
    assert chronos["zk"].splitlines()[-1] == f"zk://{zk}/mesos"
    check_golden("mesos/agent", mesos)
    check_golden("marathon/master", marathon)
    check_golden("marathon_lb/default", lb)


def test_docker_daemon_json(tmp_path):
    out = render("docker", {"daemon.json.j2": "daemon.json"}, {"h": WORKERS["w0"]}, {}, "h",
                 {"docker_daemon_options": {"log-driver": "journald", "live-restore": True}}, tmp_path)
    assert json.loads(out["daemon.json"]) == {"log-driver": "journald", "live-restore": True}
