"""Where mail comes in: the SMTP/LMTP listener, the MTA pipe and IMAP mailboxes."""
