"""Reports: how the promises were kept, computed from the tickets' own events, and drawn in mail-safe HTML."""
