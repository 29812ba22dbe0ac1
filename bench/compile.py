"""Compiler speed against stock tosca-parser, in one run.

    .venv/bin/python bench/compile.py [--stock-10000]

1. The shared corpus: our compiler (full compile, files written; and the same compile in memory, as
   `indigo validate` does) vs stock ToscaTemplate on the same files (imports mapped to the same local
   type files), each side in one process. Goal: >= 10x faster. The ~800 project files go to a tmpfs
   unless --output-dir says otherwise (see DEFAULT_OUTPUT); stock tosca-parser writes nothing.
2. One template, as a user runs it: whole `indigo validate` / `indigo compile` processes (interpreter
   start-up, CLI, imports, type library parse) vs a process running stock ToscaTemplate on it.
3. Synthetic topologies of 10/100/1 000/10 000 nodes. Goal: 10 000 nodes in <= 5 s, linear growth.
   Stock tosca-parser is run up to 1 000 nodes (--stock-10000 runs it at 10 000 too: ~16 s, quadratic).
Each measurement runs in a fresh process, so peak memory (ru_maxrss) is per measurement. Times are CPU
seconds, user + system (the machine is shared; wall clock is printed too). Both sides run from
byte-compiled modules, as after `pip install`: a warm-up process first writes any missing .pyc (the
environment may set PYTHONDONTWRITEBYTECODE, which would make only our editable checkout recompile its
sources in every process while tosca-parser's site-packages already hold theirs).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def _corpus_root() -> str:
    """$INDIGO_CORPUS, else ../shared/corpus beside the checkout."""
    beside = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared", "corpus")
    return os.environ.get("INDIGO_CORPUS") or beside


CORPUS = os.path.join(_corpus_root(), "indigo-tosca-types", "examples")
TYPES_DIR = os.path.join(_corpus_root(), "types") + "/"
SIZES = (10, 100, 1000, 10000)
ONE_TEMPLATE = os.path.join(CORPUS, "mesos_cluster.yaml")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INDIGO = os.path.join(os.path.dirname(sys.executable), "indigo")
REPEATS = 5
CORPUS_REPEATS = 3
OUTPUT_ENV = "INDIGO_BENCH_OUTPUT"  # where children write compiled projects (one folder, removed at the end)
# A tmpfs by default: on ext4, creating files right after other processes deleted many (test suites on a
# shared machine) makes the kernel skip recently freed inodes, which costs 0.01-0.7 s of system time for
# the same ~800 files here, depending on the neighbours. --output-dir /tmp measures a disk.
DEFAULT_OUTPUT = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
# Children write .pyc (see the module docstring); everything else in the environment is kept.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def synthetic_template(nodes: int) -> str:
    """nodes/2 Compute nodes, each hosting one software node; software depends on its predecessor in
    chains of 10 (so the plan has 10 levels whatever the size)."""
    lines = ["tosca_definitions_version: tosca_simple_yaml_1_0", "topology_template:", "  inputs:",
             "    cpus: {type: integer, default: 1}", "  node_templates:"]
    for index in range(nodes // 2):
        lines += ["    vm%d:" % index, "      type: tosca.nodes.Compute", "      capabilities:",
                  "        host: {properties: {num_cpus: {get_input: cpus}, mem_size: 1 GB}}",
                  "    app%d:" % index, "      type: tosca.nodes.SoftwareComponent",
                  "      properties: {component_version: '1.%d'}" % index,
                  "      requirements:", "        - host: vm%d" % index]
        if index % 10:
            lines.append("        - dependency: app%d" % (index - 1))
        lines += ["      interfaces:", "        Standard:",
                  "          configure: {implementation: app.yml, inputs: {peer: {get_attribute: [vm%d, private_address, 0]}}}"
                  % index]
    lines += ["  outputs:", "    first_ip: {value: {get_attribute: [vm0, public_address, 0]}}"]
    return "\n".join(lines) + "\n"


def _local_defs() -> dict:
    defs = {}
    for path in glob.glob(os.path.join(TYPES_DIR, "**", "*.yaml"), recursive=True):
        defs["https://" + os.path.relpath(path, TYPES_DIR)] = path
    return defs


def _measure(kind: str, paths: list) -> dict:
    """Runs in a child process: compile or stock-parse every path; returns times and peak RSS."""
    failures = 0
    out = tempfile.mkdtemp(dir=os.environ.get(OUTPUT_ENV))  # removed with the bench's output folder
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if kind in ("ours", "ours-validate"):
        from tosca2ansible.compiler import compile_template, validate_template  # pylint: disable=import-outside-toplevel
        from tosca2ansible.errors import UserInputError  # pylint: disable=import-outside-toplevel

        for index, path in enumerate(paths):
            try:
                if kind == "ours":
                    compile_template(path, os.path.join(out, str(index)), {}, ["https://=" + TYPES_DIR],
                                     None, defer_inputs=True)
                else:  # the whole compile in memory: what `indigo validate` does
                    validate_template(path, {}, ["https://=" + TYPES_DIR], defer_inputs=True)
            except UserInputError:
                failures += 1
    else:
        from toscaparser.tosca_template import ToscaTemplate  # pylint: disable=import-outside-toplevel

        defs = _local_defs()
        for path in paths:
            try:
                ToscaTemplate(path, local_defs=defs)
            except Exception:  # pylint: disable=broad-except  # stock parser failures still cost time
                failures += 1
    return {"cpu": time.process_time() - cpu0, "wall": time.perf_counter() - wall0,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, "failures": failures}


def _median(results: list) -> dict:
    return {key: sorted(r[key] for r in results)[len(results) // 2] for key in results[0]}


def _child(kind: str, paths: list) -> dict:
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", kind, *paths],
                          capture_output=True, text=True, check=True, env=CHILD_ENV)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _process_cpu(command: list) -> tuple:
    """Median CPU seconds (user + system) and median peak MB of REPEATS runs of a whole process."""
    cpus, peaks = [], []
    for _ in range(REPEATS):
        with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV,
                              cwd=ROOT) as process:
            _, status, usage = os.wait4(process.pid, 0)  # this process's own rusage
            process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit("%s exited with %d" % (" ".join(command[:3]), process.returncode))
        cpus.append(usage.ru_utime + usage.ru_stime)
        peaks.append(usage.ru_maxrss / 1024.0)
    return sorted(cpus)[len(cpus) // 2], sorted(peaks)[len(peaks) // 2]


def _one_template() -> None:
    types = "https://=" + TYPES_DIR
    stock_code = ("from toscaparser.tosca_template import ToscaTemplate; ToscaTemplate(%r, local_defs=%r)"
                  % (ONE_TEMPLATE, _local_defs()))
    with tempfile.TemporaryDirectory() as out:
        rows = [
            ("python -c pass (interpreter)", [sys.executable, "-c", "pass"]),
            ("indigo validate", [INDIGO, "validate", ONE_TEMPLATE, "--types-path", types]),
            ("indigo compile", [INDIGO, "compile", ONE_TEMPLATE, "-o", os.path.join(out, "p"), "--defer-inputs",
                                "--types-path", types]),
            ("stock tosca-parser (parse)", [sys.executable, "-c", stock_code]),
        ]
        figures = {label: _process_cpu(command) for label, command in rows}
    print("one template, whole process (%s, median of %d)   cpu s  peak MB"
          % (os.path.basename(ONE_TEMPLATE), REPEATS))
    for label, (cpu, peak) in figures.items():
        print("  %-38s %7.3f  %7.0f" % (label, cpu, peak))
    stock_cpu = figures["stock tosca-parser (parse)"][0]
    print("  speed-up (cpu): validate %.1fx, compile %.1fx"
          % (stock_cpu / figures["indigo validate"][0], stock_cpu / figures["indigo compile"][0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stock-10000", action="store_true", help="also run stock tosca-parser on 10 000 nodes")
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT,
                        help="where compiled projects are written (default: %(default)s)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child[0], args.child[1:])))
        return
    with tempfile.TemporaryDirectory(dir=args.output_dir) as output:
        CHILD_ENV[OUTPUT_ENV] = output
        print("compiled projects are written under %s (%s)\n" % (args.output_dir, _filesystem(args.output_dir)))
        _compare(args.stock_10000)


def _filesystem(path: str) -> str:
    """Type of the filesystem holding `path` (longest mount point that contains it)."""
    real, best = os.path.realpath(path), ("", "?")
    with open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            point = fields[1]
            if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) > len(best[0]):
                best = (point, fields[2])
    return best[1]


def _compare(stock_10000: bool) -> None:
    corpus = sorted(glob.glob(os.path.join(CORPUS, "*.y*ml")))
    _child("ours", [ONE_TEMPLATE])  # warm-up: byte-compile both sides' modules (see the docstring)
    _child("stock", [ONE_TEMPLATE])
    runs: dict = {"ours": [], "ours-validate": [], "stock": []}
    for _ in range(CORPUS_REPEATS):  # interleaved, so a busy moment of the shared machine hits every side
        for kind, results in runs.items():
            results.append(_child(kind, corpus))
    ours, in_memory, stock = (_median(runs[kind]) for kind in ("ours", "ours-validate", "stock"))
    print("corpus (%d templates, median of %d runs)" % (len(corpus), CORPUS_REPEATS))
    print("  %-30s %7s  %7s  %7s  %s" % ("", "cpu s", "wall s", "peak MB", "failures"))
    for label, figures in (("indigo compile (files written)", ours), ("indigo validate (in memory)", in_memory),
                           ("stock tosca-parser (parse)", stock)):
        print("  %-30s %7.2f  %7.2f  %7.0f  %d" % (label, figures["cpu"], figures["wall"], figures["peak_mb"],
                                                 figures["failures"]))
    print("  speed-up (cpu): compile %.1fx (goal >= 10x), validate %.1fx"
          % (stock["cpu"] / max(ours["cpu"], 1e-9), stock["cpu"] / max(in_memory["cpu"], 1e-9)))
    print()
    _one_template()
    print()
    print("synthetic nodes   ours cpu s  wall s  peak MB   stock cpu s  peak MB")
    with tempfile.TemporaryDirectory() as folder:
        # the operations' playbook: the compiler copies it into each project (a missing one is an error)
        with open(os.path.join(folder, "app.yml"), "w", encoding="utf-8") as handle:
            handle.write("- hosts: localhost\n")
        previous = None
        for size in SIZES:
            path = os.path.join(folder, "synthetic_%d.yaml" % size)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(synthetic_template(size))
            mine = _child("ours", [path])
            if size < 10000 or stock_10000:
                theirs = _child("stock", [path])
                stock_text = "%11.2f  %7.0f  (%.1fx)" % (theirs["cpu"], theirs["peak_mb"],
                                                       theirs["cpu"] / max(mine["cpu"], 1e-9))
            else:
                stock_text = "    skipped (--stock-10000 runs it)"
            growth = "" if previous is None else "  x%.1f for x10 nodes" % (mine["cpu"] / max(previous, 1e-9))
            print("%15d  %10.2f  %6.2f  %7.0f  %s%s" % (size, mine["cpu"], mine["wall"], mine["peak_mb"], stock_text, growth))
            assert mine["failures"] == 0, "synthetic template failed to compile"
            previous = mine["cpu"]


if __name__ == "__main__":
    main()
