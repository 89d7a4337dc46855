"""Every write the product makes. Views, the admin and consumers call these and nothing else.

One module per subject (broadcasts, comments, reactions, pins, moderation, moderators,
reviews, users). Each write
has a ``*_check`` (permission and rules, no writes) apart from the change, which runs in one
transaction and announces itself with a ``livevideo.signals`` signal, sent once it commits
(the real-time stream, ``livevideo.events``, is one receiver).
Permissions live in ``livevideo.permissions``; the chat rules in ``livevideo.moderation``.
"""

from livevideo.services.audit import record
from livevideo.services.broadcasts import (
    BROADCASTERS_GROUP,
    DESCRIPTION_MAX,
    TITLE_MAX,
    broadcast_create,
    broadcast_end,
    broadcast_start,
    broadcast_update,
)
from livevideo.services.comments import (
    COMMENT_MAX,
    comment_check,
    comment_create,
    comment_remove,
    comment_remove_check,
    comment_restore,
    comments_check,
    comments_check_across,
    comments_create_across,
    comments_create_batch,
    comments_record,
    comments_record_across,
)
from livevideo.services.moderation import (
    bar_check,
    moderation_settings_update,
    user_ban,
    user_timeout,
    user_unban,
)
from livevideo.services.moderators import (
    moderator_appoint,
    moderator_remove,
    standing_moderator_add,
    standing_moderator_remove,
)
from livevideo.services.pins import comment_pin, comment_unpin, pinned_comment_set
from livevideo.services.reactions import (
    reaction_check,
    reaction_create,
    reaction_kind_clean,
    reactions_check,
    reactions_create_batch,
    reactions_record,
)
from livevideo.services.reviews import comment_approve, comment_report
from livevideo.services.users import broadcaster_grant, user_create

__all__ = [
    "BROADCASTERS_GROUP",
    "COMMENT_MAX",
    "DESCRIPTION_MAX",
    "TITLE_MAX",
    "bar_check",
    "broadcast_create",
    "broadcast_end",
    "broadcast_start",
    "broadcast_update",
    "broadcaster_grant",
    "comment_approve",
    "comment_check",
    "comment_create",
    "comment_pin",
    "comment_remove",
    "comment_remove_check",
    "comment_report",
    "comment_restore",
    "comment_unpin",
    "comments_check",
    "comments_check_across",
    "comments_create_across",
    "comments_create_batch",
    "comments_record",
    "comments_record_across",
    "moderation_settings_update",
    "moderator_appoint",
    "moderator_remove",
    "pinned_comment_set",
    "reaction_check",
    "reaction_create",
    "reaction_kind_clean",
    "reactions_check",
    "reactions_create_batch",
    "reactions_record",
    "record",
    "standing_moderator_add",
    "standing_moderator_remove",
    "user_ban",
    "user_create",
    "user_timeout",
    "user_unban",
]
