"""Engineers working tickets by mail: who they are, their commands, their replies relayed."""
