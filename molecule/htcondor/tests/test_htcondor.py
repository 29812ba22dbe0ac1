"""4 jobs submitted on the front-end complete on the 2 execute nodes."""
import os
import time

INVENTORY = os.environ["INDIGO_MOLECULE_INVENTORY"]
testinfra_hosts = [f"ansible://htcondor_central_manager?ansible_inventory={INVENTORY}"]

SUBMIT = """executable = /bin/hostname
output = out.$(Process)
error = err.$(Process)
log = jobs.log
queue 4
"""


def test_two_execute_nodes_join_the_pool(host):
    deadline = time.time() + 120
    while time.time() < deadline:
        machines = set(host.run("condor_status -af Machine").stdout.split())
        if len(machines) >= 2:
            break
        time.sleep(5)
    assert len(machines) == 2, machines


def test_four_jobs_complete(host):
    host.check_output("rm -rf ~tester/jobs && install -d -o tester ~tester/jobs")
    host.check_output(f"cd ~tester/jobs && printf '{SUBMIT}' > job.sub && chown tester job.sub")
    # -terse prints "C.0 - C.3": wait for this cluster only.
    cluster = host.check_output("cd ~tester/jobs && runuser -u tester -- condor_submit -terse job.sub").split(".")[0]
    deadline = time.time() + 300
    while time.time() < deadline:
        if not host.run(f"runuser -u tester -- condor_q {cluster} -af ProcId").stdout.strip():
            break
        time.sleep(5)
    assert host.run(f"runuser -u tester -- condor_q {cluster} -af ProcId").stdout.strip() == ""
    outputs = [host.file(f"/home/tester/jobs/out.{i}").content_string.strip() for i in range(4)]
    assert len(outputs) == 4 and all(outputs)
    assert set(outputs) <= set(host.check_output("condor_status -af Machine").split())
