#!/bin/sh
# Re-render docs/dashboard-overview.png and docs/dashboard-titan.png from real data:
# the recorded Binance BTCUSDT feed replayed locally (event times on today's clock),
# `exchange run` on it with the default order flow, a local Prometheus scraping it every
# second for two minutes. Run from the project root after `make install`; needs
# Debian's prometheus (`make tools`). Ports: METRICS (default 9100), PROM (9190).
set -eu
METRICS=${METRICS:-9100}
PROM=${PROM:-9190}
TMP=$(mktemp -d)
trap 'kill $RUN $PROMETHEUS $REPLAY 2>/dev/null || true; wait; rm -rf "$TMP"' EXIT
.venv/bin/python -m exchange.feeds.replay_server --port 0 --quiet --live-times > "$TMP/replay.txt" &
REPLAY=$!
sleep 2  # its first line is the ws:// URL
.venv/bin/exchange run --feed binance --binance-url "$(head -n 1 "$TMP/replay.txt")" \
    --symbols BTCUSDT --journal "$TMP/journal" --metrics-port "$METRICS" --rate 300 \
    > "$TMP/run.txt" &
RUN=$!
printf 'global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n  - job_name: exchange\n    static_configs: [{targets: ["127.0.0.1:%s"]}]\n' \
    "$METRICS" > "$TMP/prometheus.yml"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address="127.0.0.1:$PROM" > "$TMP/prometheus.log" 2>&1 &
PROMETHEUS=$!
sleep 120
for d in overview titan; do
  .venv/bin/python platform/grafana/render.py --prometheus "http://127.0.0.1:$PROM" \
      --dashboard "platform/grafana/dashboards/$d.json" --out "docs/dashboard-$d.png" \
      --minutes 2 --step 1
done
