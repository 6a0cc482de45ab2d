"""Build small RFC 5322 messages for tests (bytes, CRLF-free like most archives)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

BASE_DATE = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def make_mail(
    mid: str | None,
    subject: str = "Sujet",
    *,
    sender: str = "Alice Martin <alice@example.org>",
    to: str = "dev@lists.example.org",
    minutes: int = 0,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    thread_index: str | None = None,
    body: str = "Bonjour,\n\nUn message.\n",
    headers: dict[str, str] | None = None,
    charset: str = "utf-8",
) -> bytes:
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {format_datetime(BASE_DATE + timedelta(minutes=minutes))}",
    ]
    if mid is not None:
        lines.append(f"Message-ID: <{mid}>")
    if in_reply_to:
        lines.append(f"In-Reply-To: <{in_reply_to}>")
    if references:
        lines.append("References: " + " ".join(f"<{r}>" for r in references))
    if thread_index:
        lines.append(f"Thread-Index: {thread_index}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    lines += [
        "MIME-Version: 1.0",
        f"Content-Type: text/plain; charset={charset}",
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\n".join(lines) + "\n\n").encode("ascii", "surrogateescape") + body.encode(charset)
