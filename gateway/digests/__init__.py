"""Digests by mail: SLA reports, organisation reports, on-call handovers and due-today lists, each on its cadence."""
