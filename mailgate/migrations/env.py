"""Alembic environment: runs mailgate's migrations on the engine `mailgate.db.migrate` passes.

Autogenerate (for developers: `alembic -x url=... revision --autogenerate`) ignores the
full-text objects, which migrations create with raw SQL per dialect.
"""

from alembic import context
from sqlalchemy import create_engine

from mailgate import digest_models  # noqa: F401 - adds the digest tables to Base.metadata
from mailgate.models import Base

FULL_TEXT_PREFIXES = ("search_fts",)


def include_object(obj, name, type_, reflected, compare_to):
    return not (name or "").startswith(FULL_TEXT_PREFIXES)


def run_migrations() -> None:
    config = context.config
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(context.get_x_argument(as_dictionary=True)["url"])
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
