"""Visibility of lists and messages for anonymous, named and moderator viewers."""

from __future__ import annotations

from mailgate.access import ANONYMOUS, Viewer, can_see_list, message_visible, visible_list_ids
from mailgate.pipeline import Where, ingest
from tests.mailfactory import make_mail


def test_private_lists_need_a_named_reader(settings) -> None:
    assert can_see_list(settings, ANONYMOUS, "dev")
    assert not can_see_list(settings, ANONYMOUS, "secret")
    assert can_see_list(settings, Viewer("alice"), "secret")
    assert can_see_list(settings, Viewer("ALICE"), "secret")
    assert not can_see_list(settings, Viewer("bob"), "secret")
    assert not can_see_list(settings, Viewer("alice"), "no-such-list")


def test_message_visibility_follows_its_lists(db, contexts, settings) -> None:
    with db.engine.begin() as conn:
        secret = ingest(conn, make_mail("s@x", "Secret"), contexts["secret"], Where("secret", "t"))
        public = ingest(conn, make_mail("p@x", "Public"), contexts["dev"], Where("dev", "t"))
    with db.reader() as session:
        conn = session.connection()
        anonymous = visible_list_ids(conn, settings, ANONYMOUS)
        alice = visible_list_ids(conn, settings, Viewer("alice"))
        assert message_visible(conn, anonymous, public.message_pk)
        assert not message_visible(conn, anonymous, secret.message_pk)
        assert message_visible(conn, alice, secret.message_pk)
