"""Seed data with the ids Zammad's own ``db/seeds`` use (roles, states, priorities, article types)."""

from __future__ import annotations

ROLES: dict[int, str] = {1: "Admin", 2: "Agent", 3: "Customer"}
ROLE_IDS: dict[str, int] = {name: rid for rid, name in ROLES.items()}

# Ticket::StateType
STATE_TYPES: dict[int, str] = {
    1: "new",
    2: "open",
    3: "pending reminder",
    4: "pending action",
    5: "closed",
    6: "merged",
    7: "removed",
}
PENDING_STATE_TYPES = {3, 4}
CLOSED_STATE_TYPES = {5, 6, 7}

# Ticket::State: (id, name, state_type_id, next_state_id, ignore_escalation, default_create,
#                 default_follow_up, active)
STATES: list[tuple[int, str, int, int | None, bool, bool, bool, bool]] = [
    (1, "new", 1, None, False, True, False, True),
    (2, "open", 2, None, False, False, True, True),
    (3, "pending reminder", 3, None, True, False, False, True),
    (4, "closed", 5, None, True, False, False, True),
    (5, "merged", 6, None, True, False, False, True),
    (6, "removed", 7, None, True, False, False, False),
    (7, "pending close", 4, 4, True, False, False, True),
]

# Ticket::Priority: (id, name, default_create, ui_icon, ui_color)
PRIORITIES: list[tuple[int, str, bool, str | None, str | None]] = [
    (1, "1 low", False, "low-priority", "low-priority"),
    (2, "2 normal", True, None, None),
    (3, "3 high", False, "important", "high-priority"),
]

# Ticket::Article::Type: (id, name, communication)
ARTICLE_TYPES: list[tuple[int, str, bool]] = [
    (1, "email", True),
    (2, "sms", True),
    (3, "chat", True),
    (4, "fax", True),
    (5, "phone", True),
    (6, "twitter status", True),
    (7, "twitter direct-message", True),
    (8, "facebook feed post", True),
    (9, "facebook feed comment", True),
    (10, "note", False),
    (11, "web", True),
    (12, "telegram personal-message", True),
    (13, "facebook direct-message", True),
    (14, "whatsapp message", True),
]

ARTICLE_SENDERS: dict[int, str] = {1: "Agent", 2: "Customer", 3: "System"}

DEFAULT_GROUPS = ["Users", "Service Desk", "质检部", "生产班组", "营销部"]

# (login, firstname, lastname, roles, organization name or None)
DEFAULT_USERS: list[tuple[str, str, str, tuple[str, ...], str | None]] = [
    ("admin@example.com", "Ada", "Admin", ("Admin", "Agent"), None),
    ("agent1@example.com", "Agent", "One", ("Agent",), None),
    ("agent2@example.com", "Agent", "Two", ("Agent",), None),
    ("customer@example.com", "Carla", "Customer", ("Customer",), "Example Customer Inc."),
    # the bot provisions its own webhook/trigger ("kesu zammad setup"), so it holds admin rights
    ("kesu-bot@localhost", "kesu", "Bot", ("Admin", "Agent"), None),
]

BOT_LOGIN = "kesu-bot@localhost"

# Attributes Zammad's transaction observer does not report as "changes" (so they never make a
# selective trigger run on their own).
IGNORED_CHANGE_KEYS = frozenset(
    {
        "updated_at",
        "first_response_at",
        "close_at",
        "last_contact_agent_at",
        "last_contact_customer_at",
        "last_contact_at",
        "article_count",
        "create_article_type_id",
        "create_article_sender_id",
    }
)

# Ticket columns in the order Zammad's ``attributes_with_association_ids`` renders them.
TICKET_COLUMNS = [
    "id",
    "group_id",
    "priority_id",
    "state_id",
    "organization_id",
    "number",
    "title",
    "owner_id",
    "customer_id",
    "note",
    "first_response_at",
    "first_response_escalation_at",
    "first_response_in_min",
    "first_response_diff_in_min",
    "close_at",
    "close_escalation_at",
    "close_in_min",
    "close_diff_in_min",
    "update_escalation_at",
    "update_in_min",
    "update_diff_in_min",
    "last_close_at",
    "last_contact_at",
    "last_contact_agent_at",
    "last_contact_customer_at",
    "last_owner_update_at",
    "create_article_type_id",
    "create_article_sender_id",
    "article_count",
    "escalation_at",
    "pending_time",
    "type",
    "time_unit",
    "preferences",
    "updated_by_id",
    "created_by_id",
    "created_at",
    "updated_at",
    "checklist_id",
]

# Columns an API write may set (others are computed or ignored, like Zammad's param_cleanup).
TICKET_WRITABLE = {
    "group_id",
    "priority_id",
    "state_id",
    "organization_id",
    "title",
    "owner_id",
    "customer_id",
    "note",
    "pending_time",
    "type",
    "time_unit",
    "preferences",
}

# Removed from user objects in webhook payloads (TriggerWebhookJob::RecordPayload::Base).
USER_PAYLOAD_BLACKLIST = frozenset(
    {
        "last_login",
        "login_failed",
        "password",
        "preferences",
        "group_ids",
        "groups",
        "authorization_ids",
        "authorizations",
    }
)
