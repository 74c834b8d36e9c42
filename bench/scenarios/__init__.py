"""The benchmark scenarios: fan-out, coverage checks and webhook ingest, each against baselines."""
