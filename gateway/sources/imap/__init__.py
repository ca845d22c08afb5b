"""IMAP mailboxes: a poller per account, its connection, its passes and its lease."""
