"""A 2-node Slurm job runs across both workers."""
import os

INVENTORY = os.environ["INDIGO_MOLECULE_INVENTORY"]
testinfra_hosts = [f"ansible://slurm_controller?ansible_inventory={INVENTORY}"]


def test_srun_reaches_both_workers(host):
    workers = host.run("sinfo --noheader -N -o %N").stdout.split()
    assert len(set(workers)) == 2
    out = host.check_output("srun -N2 --time=1 hostname")
    assert sorted(out.split()) == sorted(set(workers))


def test_sbatch_two_node_job_completes(host):
    job_id = host.check_output("sbatch --wait --parsable -N2 --time=1 --output=/dev/null --wrap 'srun hostname'").strip()
    job = host.check_output(f"scontrol show job {job_id}")
    assert "JobState=COMPLETED" in job and "NumNodes=2" in job


def test_munge_key_is_private(host):
    key = host.file("/etc/munge/munge.key")
    assert key.user == "munge" and key.mode == 0o400
