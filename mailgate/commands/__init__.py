"""Email commands: mail to `<list>-request@`, `<list>-owner@` and the bot address, answered.

The gateway queues such mail durably in the `command_inbox` table (`mailgate.routing`);
`worker.run_once` handles what is queued: it parses the commands (`grammar`, English and
French), ignores loops and machines, deduplicates retried deliveries, rate-limits each sender,
runs read-only commands at once (`readonly`) and asks for a confirmation before any change
(`changes`), then queues one reply in the outbox (`mailgate.outbound`). `mailgate serve` runs
the worker as its "commands" service; `mailgate commands run-once` runs it once.
"""
