"""The operator's tools on top of the gateway: run, explain, simulate, reports, import, review."""
