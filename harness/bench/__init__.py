"""Benchmarks of the template's images and harness: `python -m harness.bench [variants...]`.

Measures image sizes (ours vs a naive single-stage Dockerfile vs the floor: the base image
plus the runtime dependencies in a bare venv), cold and edit-rebuild times, serve start to
ready, predict throughput and latency against the no-op endpoint (wrk), compose scaling
behind the load balancer, training time and accuracy, lint wall time and the demo's time
to first prediction. Writes out/bench/bench.json, report.md and bench.png.
"""
