#!/usr/bin/env bash
# Train the Rasa model only when what it is trained from changed (data, domain, config, NLU code).
# The fingerprint is a hash of those files; the model lives at models/helpdesk.tar.gz.
set -euo pipefail
cd "$(dirname "$0")/.."
RASA=.venv/bin/rasa
MODEL=models/helpdesk.tar.gz
STAMP=.stamps/model-fingerprint

fingerprint() {
  find data domain.yml config.yml helpdesk/nlu_components.py helpdesk/text.py -type f \( -name '*.yml' -o -name '*.yaml' -o -name '*.py' \) 2>/dev/null \
    | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1
}

want=$(fingerprint)
if [[ -f "$MODEL" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "model is up to date ($MODEL)"
  exit 0
fi
mkdir -p models .stamps
echo "training the assistant (data changed)..."
start=$(date +%s)
# Rasa's telemetry would try the network; nothing here may.
RASA_TELEMETRY_ENABLED=false $RASA train --fixed-model-name helpdesk --out models --quiet
echo "trained in $(( $(date +%s) - start )) s"
echo "$want" > "$STAMP"
