"""Processing one stored mail: what it is, what to do with it, and the writes that do it."""
