"""Metrics of every component: fixed-bucket histograms cheap enough for the loop
(``buckets``), the counters fed by durable records and the timing probes
(``telemetry``), and the Prometheus exporter that builds every family at scrape time
(``exporter``; the catalog is docs/metrics.md)."""
