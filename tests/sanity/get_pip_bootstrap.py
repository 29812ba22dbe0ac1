"""Stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test bootstraps pip into its managed virtual environments with a get-pip script fetched from
ci-files.testing.ansible.com, which is not reachable from our CI. It looks for a cached copy at
~/.ansible/test/cache/get_pip_<version>.py first; the sanity test fixture copies this file there. It does
what get-pip does, with the standard library: install the pip bundled with Python (ensurepip), then
install the requested packages (the same arguments get-pip takes) from the configured package index.
"""

import ensurepip
import subprocess
import sys


def main():
    ensurepip.bootstrap(upgrade=True, default_pip=True)
    if sys.argv[1:]:
        subprocess.check_call([sys.executable, "-m", "pip", "install"] + sys.argv[1:])


if __name__ == "__main__":
    main()
