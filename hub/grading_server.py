"""The grading account's Jupyter server (formgrader's), started by JupyterHub as a service, as that account.

It first joins the cgroup the set-up delegated to the account (the ``cgroup.procs`` files named, one
per line, in COURSE_HUB_CGROUP_PROCS), so that the grading sandbox can cap each kernel's memory and
tasks in cgroups of its own below it; a cgroup it cannot join is said in one line, and the sandbox
then refuses to grade (`python -m graders doctor` says why). Then it runs ``jupyterhub-singleuser``
of this environment (the staff install), which stops at once, kernels included, on the SIGINT the
hub sends first when it stops (without a terminal, Jupyter's server would wait for the SIGTERM that
follows much later).
"""

import os
import signal
import sys

for procs in filter(None, os.environ.pop("COURSE_HUB_CGROUP_PROCS", "").splitlines()):
    try:
        with open(procs, "w") as file:
            file.write(str(os.getpid()))
    except OSError as error:
        print(f"grading server: cannot join the delegated cgroup {procs}: {error}; grading will refuse", file=sys.stderr)

os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # no terminal: Jupyter's server leaves SIGINT to us
signal.signal(signal.SIGINT, lambda *_: os.kill(os.getpid(), signal.SIGTERM))

from jupyterhub.singleuser import main  # noqa: E402

sys.argv[0] = "jupyterhub-singleuser"
sys.exit(main())
