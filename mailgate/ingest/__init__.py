"""Entry points that feed the ingest pipeline: SMTP/LMTP receivers, IMAP poller, archive import."""
