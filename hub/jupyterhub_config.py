"""JupyterHub for the course: nbgrader's "one class, several graders" set-up (hub/course_hub.py makes it).

* Login: JupyterHub's default PAM authenticator, the accounts of hub/layout.py only.
* Each user's server runs as that user (LocalProcessSpawner): a student's from the students'
  environment (the students' wheel), an instructor's from the staff install (this venv).
* Formgrader: the grading account's Jupyter server, a JupyterHub service named after the course,
  run as that account from the course directory, in the cgroup delegated to it; the group
  ``formgrade-tf-pytorch`` (the instructors) may open it, nobody else: JupyterHub answers 403.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from layout import (  # noqa: E402
    COURSE_ID,
    GRADER,
    INSTRUCTORS,
    PROXY,
    STAFF_GROUP,
    STUDENTS,
    Layout,
)

c = get_config()  # noqa: F821
layout = Layout.from_environment()
staff_python = layout.python(GRADER)

c.JupyterHub.ip = "127.0.0.1"  # a demonstration on this machine: plain HTTP, so not on the network
c.JupyterHub.port = layout.port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = layout.hub_api_port
c.ConfigurableHTTPProxy.command = [str(PROXY)]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{layout.proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = str(layout.state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{layout.state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(layout.state / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # Ctrl-C stops every server (and their kernels) with the hub

c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no login session manager here
c.Authenticator.allowed_users = set(INSTRUCTORS + STUDENTS)

c.JupyterHub.load_groups = {STAFF_GROUP: {"users": list(INSTRUCTORS)}}
c.JupyterHub.load_roles = [
    {
        "name": STAFF_GROUP,
        "groups": [STAFF_GROUP],
        "scopes": [f"access:services!service={COURSE_ID}", "list:services", f"read:services!service={COURSE_ID}"],
    },
    {"name": "server", "scopes": ["inherit"]},  # nbgrader's course list asks the hub which courses its user has
]

grading = json.loads(layout.cgroup.read_text())
c.JupyterHub.services = [
    {
        "name": COURSE_ID,
        "url": f"http://127.0.0.1:{layout.formgrader_port}",
        "user": GRADER,
        "cwd": str(layout.course),  # nbgrader reads the course's nbgrader_config.py from here
        "command": [str(staff_python), str(Path(__file__).with_name("grading_server.py"))],
        "environment": {
            "PATH": f"{staff_python.parent}:/usr/local/bin:/usr/bin:/bin",  # nbgrader runs alembic from PATH
            "NBGRADER_EXCHANGE": str(layout.exchange),
            "COURSE_HUB_CGROUP_PROCS": "\n".join(grading["join"]),
            "JUPYTERHUB_DEFAULT_URL": "/lab",
            **grading["environment"],
        },
        "oauth_no_confirm": True,
    }
]

c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.LocalProcessSpawner.interrupt_timeout = 3  # a server without a terminal ignores the SIGINT of a stop: SIGTERM soon


def environment_of_their_own(spawner):
    """Students' servers from the students' environment, the staff's from the staff install."""
    python = layout.python(spawner.user.name)
    spawner.cmd = [str(python), "-m", "jupyterhub.singleuser"]
    spawner.environment = {"PATH": f"{python.parent}:/usr/local/bin:/usr/bin:/bin"}


c.Spawner.pre_spawn_hook = environment_of_their_own
