"""Moderation: hide, redact, erase, ban, thread fixes and people fixes, with an audit log.

Moderators act by email (`mailgate.moderation.mail.handle_owner_mail`, every change confirmed
by reply with a one-time token) and administrators through `mailgate moderate` (acting at
once). Both go through `actions.apply_action`, which checks who may act, applies the change in
the caller's transaction and writes the audit log. Ingest asks `blocks.check` about banned
senders and erased mail; `mailgate rebuild` calls `replay.replay_all` so hides and thread
fixes survive. This package init imports nothing, so the pipeline can import `blocks` cheaply.
"""
