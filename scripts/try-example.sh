#!/usr/bin/env bash
# Install gradebot into .venv and grade the bundled example assignment.
#
# With ANTHROPIC_API_KEY set, the five example letters are graded by Claude (a
# few cents). Without it, the script starts the loopback fake of the Messages
# API from tests/fakes and grades against it, so the whole flow can be tried
# offline; the fake's grades are canned, not Claude's judgement.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet .

example=examples/four-day-week

if [[ -n "${ANTHROPIC_API_KEY:-}" ]]; then
  export GRADEBOT_HOME="${GRADEBOT_HOME:-$PWD/.gradebot-example}"
  feedback="$example/feedback"
  .venv/bin/gradebot grade "$example"
else
  # Canned grades get their own data and feedback folders, so a later run with a
  # real key does not take them for Claude's grades.
  export GRADEBOT_HOME="$PWD/.gradebot-example-offline"
  feedback="$example/feedback-offline"
  echo "ANTHROPIC_API_KEY is not set: grading against the offline fake API (canned grades)." >&2
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  .venv/bin/python -m tests.fakes.anthropic_api --port 0 \
    --responder tests.support.grading:example_responder >"$fifo" &
  fake_pid=$!
  trap 'kill "$fake_pid" 2>/dev/null || true; rm -f "$fifo"' EXIT
  read -r ready url <"$fifo"
  [[ "$ready" == READY ]] || { echo "the fake API did not start" >&2; exit 1; }
  ANTHROPIC_BASE_URL="$url" ANTHROPIC_API_KEY="$(.venv/bin/python -c \
    'from tests.fakes.anthropic_api import DEFAULT_API_KEY; print(DEFAULT_API_KEY)')" \
    .venv/bin/gradebot grade "$example" --output "$feedback"
fi
.venv/bin/gradebot export "$example" --format csv
echo "Feedback files: $feedback/" >&2
