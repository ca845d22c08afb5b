"""What changes a ticket: status, priority, responses, acknowledgements, its next wake-up."""
