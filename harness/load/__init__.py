"""`hih load`: drive a connector's port operations against the partner mock (or a hospital's listener) at a fixed
rate, open loop, and check the contract's SLAs: per-transaction latency percentiles, throughput over time and
errors by kind, written as load.json, load.html and junit.xml (one case per SLA). See docs/load.md."""
