"""People: persons and their addresses, names seen, the identity log, per-person term counts.

`messages.person_id` (already in the core schema) points at `persons.id`; it is filled at
ingest and by `mailgate rebuild --people` for messages stored before this revision.

Revision ID: 0600_people
Revises: 0700_commands
"""

import sqlalchemy as sa
from alembic import op

revision = "0600_people"
down_revision = "0700_commands"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "person_addresses",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("canonical", sa.String(length=320), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_index("ix_person_addresses_person_id", "person_addresses", ["person_id"])
    op.create_index("ix_person_addresses_canonical", "person_addresses", ["canonical"])
    op.create_table(
        "person_names",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=320), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address", "name"),
    )
    op.create_table(
        "person_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("addresses", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_person_merges_person_id", "person_merges", ["person_id"])
    op.create_table(
        "person_terms",
        sa.Column("person_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("list_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("display", sa.String(length=200), nullable=False),
        sa.Column("tf", sa.Integer(), nullable=False),
        sa.Column("docs", sa.Integer(), nullable=False),
        sa.Column("last_pk", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "list_id", "term"),
    )
    op.create_index("ix_person_terms_term", "person_terms", ["term", "list_id"])


def downgrade() -> None:
    op.drop_index("ix_person_terms_term", table_name="person_terms")
    op.drop_table("person_terms")
    op.drop_index("ix_person_merges_person_id", table_name="person_merges")
    op.drop_table("person_merges")
    op.drop_table("person_names")
    op.drop_index("ix_person_addresses_canonical", table_name="person_addresses")
    op.drop_index("ix_person_addresses_person_id", table_name="person_addresses")
    op.drop_table("person_addresses")
    op.drop_table("persons")
