"""Shared by the tests in tests/systemd (and tests/compose): find the units meson generated in <build>/systemd and
copy them with their install paths rewritten, so they run the binaries of a build tree.

The install paths come from meson (tests/systemd/meson.build) through the environment:
APPT_UNIT_SBINDIR, APPT_UNIT_BINDIR, APPT_UNIT_SYSCONFDIR."""
import os
import re
import shutil
import subprocess
import time

BUILD = os.path.abspath(os.environ.get("APPT_BUILD_ROOT", "build"))
SRC = os.path.abspath(os.environ.get("APPT_SOURCE_ROOT", "."))
SBINDIR = os.environ.get("APPT_UNIT_SBINDIR", "/usr/local/sbin")
BINDIR = os.environ.get("APPT_UNIT_BINDIR", "/usr/local/bin")
SYSCONFDIR = os.environ.get("APPT_UNIT_SYSCONFDIR", "/etc")

UNITS = [
    "appointment-api.service",
    "appointment-api.socket",
    "appointment-worker@.service",
    "appointment-completion.service",
    "appointment-reconcile.service",
    "appointment-reconcile.timer",
    "appointmentd.target",
]
# Every service as systemd-analyze sees it (a template is checked through an instance).
SERVICES = [
    "appointment-api.service",
    "appointment-worker@pe.service",
    "appointment-completion.service",
    "appointment-reconcile.service",
]
DAEMONS = ["appointment-api", "appointment-worker", "appointment-completion"]
TOOLS = ["appointmentctl"]


def generated_dir():
    return os.path.join(BUILD, "systemd")


def missing_units():
    return [u for u in UNITS if not os.path.isfile(os.path.join(generated_dir(), u))]


def rewrite(text, build_root, conf_dir):
    """The unit text with the installed binaries replaced by <build_root>/daemons/<name>/<name>
    and <sysconfdir>/appointmentd by conf_dir."""
    for name in DAEMONS:
        text = text.replace("%s/%s" % (SBINDIR, name), "%s/daemons/%s/%s" % (build_root, name, name))
    for name in TOOLS:
        text = text.replace("%s/%s" % (BINDIR, name), "%s/daemons/%s/%s" % (build_root, name, name))
    return text.replace(SYSCONFDIR + "/appointmentd", conf_dir)


def prepare(dest, build_root, conf_dir):
    """Writes the rewritten units into dest (created); returns dest. Raises AssertionError
    when an Exec line still names an install path (the substitution and the rewrite disagree)."""
    os.makedirs(dest, exist_ok=True)
    for u in UNITS:
        with open(os.path.join(generated_dir(), u), encoding="utf-8") as f:
            text = rewrite(f.read(), build_root, conf_dir)
        for line in text.splitlines():
            if re.match(r"^Exec\w+=", line) and (SBINDIR + "/" in line or BINDIR + "/" in line):
                raise AssertionError("%s: install path left after rewrite: %s" % (u, line))
        with open(os.path.join(dest, u), "w", encoding="utf-8") as f:
            f.write(text)
    return dest


def unit_property_lines(path, key):
    """Values of every `key=` line of a unit file (no drop-ins, no comments)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith(key + "="):
                out.append(line[len(key) + 1:])
    return out


def ensure_package(command, package):
    """command on PATH, or install Debian's package providing it (as root, with apt-get).
    scripts/deps.sh should list the package so this never runs in CI."""
    if shutil.which(command):
        return shutil.which(command)
    if os.geteuid() != 0:
        raise AssertionError("%s missing and not root to install %s" % (command, package))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", package],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=600)
    if r.returncode != 0 or not shutil.which(command):
        raise AssertionError("apt-get install %s failed:\n%s" % (package, r.stdout[-2000:]))
    return shutil.which(command)


def wait_until(pred, timeout, interval=0.05):
    """pred() until it returns something true or timeout seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)
