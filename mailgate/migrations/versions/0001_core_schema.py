"""Core schema: lists, raw messages and deliveries, messages, threads, search documents.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from mailgate.search_index import create_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailing_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantine_sha256"), ["sha256"], unique=False)

    op.create_table(
        "raw_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_table(
        "thread_nodes",
        sa.Column("mid", sa.String(length=250), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("parent_mid", sa.String(length=250), nullable=True),
        sa.Column("ghost", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("mid"),
    )
    with op.batch_alter_table("thread_nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_thread_nodes_thread_id"), ["thread_id"], unique=False)

    op.create_table(
        "thread_redirects",
        sa.Column("old_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("new_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("old_id"),
    )
    with op.batch_alter_table("thread_redirects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_thread_redirects_new_id"), ["new_id"], unique=False)

    op.create_table(
        "threads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("root_mid", sa.String(length=250), nullable=True),
        sa.Column("first_date", sa.DateTime(), nullable=True),
        sa.Column("last_date", sa.DateTime(), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("raw_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("arrived_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["mailing_lists.id"],
        ),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_messages.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_list_id"), ["list_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_raw_id"), ["raw_id"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("raw_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=250), nullable=False),
        sa.Column("synthetic_mid", sa.Boolean(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("parent_mid", sa.String(length=250), nullable=True),
        sa.Column("link", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("subject_key", sa.String(length=200), nullable=False),
        sa.Column("reply_like", sa.Boolean(), nullable=False),
        sa.Column("from_name", sa.String(length=320), nullable=False),
        sa.Column("from_addr", sa.String(length=320), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("date", sa.DateTime(), nullable=False),
        sa.Column("tz_offset", sa.Integer(), nullable=False),
        sa.Column("arrived_at", sa.DateTime(), nullable=False),
        sa.Column("thread_index", sa.String(length=400), nullable=True),
        sa.Column("thread_index_root", sa.String(length=64), nullable=True),
        sa.Column("has_attachments", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("snippet", sa.String(length=280), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_messages.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint"),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_date_id", ["date", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_from_addr"), ["from_addr"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_message_id"), ["message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_raw_id"), ["raw_id"], unique=False)
        batch_op.create_index("ix_messages_subject_key", ["subject_key", "date"], unique=False)
        batch_op.create_index("ix_messages_thread_date", ["thread_id", "date"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_messages_thread_index_root"), ["thread_index_root"], unique=False
        )

    op.create_table(
        "thread_lists",
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("first_date", sa.DateTime(), nullable=False),
        sa.Column("last_date", sa.DateTime(), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["mailing_lists.id"],
        ),
        sa.PrimaryKeyConstraint("thread_id", "list_id"),
    )
    with op.batch_alter_table("thread_lists", schema=None) as batch_op:
        batch_op.create_index(
            "ix_thread_lists_activity", ["list_id", "last_date", "thread_id"], unique=False
        )

    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=500), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_id", sa.String(length=250), nullable=True),
        sa.Column("inline", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachments_message_pk"), ["message_pk"], unique=False)

    op.create_table(
        "bodies",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("own_text", sa.Text(), nullable=False),
        sa.Column("zones", sa.Text(), nullable=False),
        sa.Column("defects", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_pk"),
    )
    op.create_table(
        "message_lists",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("raw_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.DateTime(), nullable=False),
        sa.Column("arrived_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["mailing_lists.id"],
        ),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_messages.id"],
        ),
        sa.PrimaryKeyConstraint("message_pk", "list_id"),
    )
    with op.batch_alter_table("message_lists", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_lists_list_date", ["list_id", "date", "message_pk"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_message_lists_raw_id"), ["raw_id"], unique=False)

    op.create_table(
        "recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recipients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recipients_address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_recipients_message_pk"), ["message_pk"], unique=False)

    op.create_table(
        "search_docs",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("people", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_pk"),
    )
    for statement in create_sql(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("search_docs_ai", "search_docs_ad", "search_docs_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_docs")
    with op.batch_alter_table("recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipients_message_pk"))
        batch_op.drop_index(batch_op.f("ix_recipients_address"))

    op.drop_table("recipients")
    with op.batch_alter_table("message_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_lists_raw_id"))
        batch_op.drop_index("ix_message_lists_list_date")

    op.drop_table("message_lists")
    op.drop_table("bodies")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachments_message_pk"))

    op.drop_table("attachments")
    with op.batch_alter_table("thread_lists", schema=None) as batch_op:
        batch_op.drop_index("ix_thread_lists_activity")

    op.drop_table("thread_lists")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_thread_index_root"))
        batch_op.drop_index("ix_messages_thread_date")
        batch_op.drop_index("ix_messages_subject_key")
        batch_op.drop_index(batch_op.f("ix_messages_raw_id"))
        batch_op.drop_index(batch_op.f("ix_messages_person_id"))
        batch_op.drop_index(batch_op.f("ix_messages_message_id"))
        batch_op.drop_index(batch_op.f("ix_messages_from_addr"))
        batch_op.drop_index("ix_messages_date_id")

    op.drop_table("messages")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_raw_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_list_id"))

    op.drop_table("deliveries")
    op.drop_table("threads")
    with op.batch_alter_table("thread_redirects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_thread_redirects_new_id"))

    op.drop_table("thread_redirects")
    with op.batch_alter_table("thread_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_thread_nodes_thread_id"))

    op.drop_table("thread_nodes")
    op.drop_table("raw_messages")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_sha256"))

    op.drop_table("quarantine")
    op.drop_table("mailing_lists")
