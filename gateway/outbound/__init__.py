"""Mail the gateway sends: templates, composition, the outbox, the sender and its transports."""
