"""People: identities, profiles, topics, "who knows about X?" and related people.

Everything is derived from the mail itself. Identities are kept at ingest
(`mailgate.people.upkeep`, called by the pipeline) and changed by decisions
(`mailgate.people.identity`); profiles are read per reader scope (the list ids
`mailgate.access` gives that reader). This module is the public interface used by the CLI,
the web archive, search (`from:` is person-aware), commands and moderation.
"""

from __future__ import annotations

from mailgate.people.expertise import (
    Expert,
    Related,
    RelatedForThreads,
    RelatedThread,
    related_for_threads,
    related_people,
    who_knows,
)
from mailgate.people.identity import (
    IdentityError,
    addresses_of,
    forget_people,
    merge_people,
    person_for_address,
    split_address,
    undo,
)
from mailgate.people.profiles import Profile, profile
from mailgate.people.proposals import Proposal, apply_proposals, proposals
from mailgate.people.topics import Topic
from mailgate.people.upkeep import rebuild_people, refresh_people

__all__ = [
    "Expert",
    "IdentityError",
    "Profile",
    "Proposal",
    "Related",
    "RelatedForThreads",
    "RelatedThread",
    "Topic",
    "addresses_of",
    "apply_proposals",
    "forget_people",
    "merge_people",
    "person_for_address",
    "profile",
    "proposals",
    "rebuild_people",
    "refresh_people",
    "related_for_threads",
    "related_people",
    "split_address",
    "undo",
    "who_knows",
]
