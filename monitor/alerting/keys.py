"""Every Redis key alerting uses, in one place.

Per-subscription keys carry the hash tag ``{sub:<id>}`` so a Redis Cluster keeps one subscription's
definition, notification log, health and stream together. The delivery queue (streams per channel, the
schedule, bodies, batches) shares the tag ``{q}`` so its Lua scripts touch one slot. Global indexes
(the subscription set, silences, the change counter) are plain keys.

The Lua scripts (``queue``, ``channels.redis_stream``) build no key names of their own: they get every
key from here, as ``KEYS`` or inside their arguments, and for a key whose id only the script knows (the
batch a group is collecting) the prefix from here (``batch_items("")``).
"""

from __future__ import annotations

PREFIX = "monitor"

SUBS = f"{PREFIX}:subs"  # SET of subscription ids
SILENCES = f"{PREFIX}:silences"  # HASH id -> Silence JSON
VERSION = f"{PREFIX}:alerting:version"  # INCR on every subscription/silence change
CHANGES = f"{PREFIX}:alerting:changes"  # STREAM "<version>-1" -> kind (sub|silence), id; trimmed
SILENCED = f"{PREFIX}:silenced"  # STREAM of silenced alerts (recorded, not delivered)
NOTICES = f"{PREFIX}:notices"  # STREAM of endpoint notices (disabled, ...)

Q = f"{PREFIX}:{{q}}"
SCHED = f"{Q}:sched"  # ZSET "<channel>|<delivery id>" -> due (unix seconds)
BODY = f"{Q}:body"  # HASH delivery id -> Delivery JSON (batches: header only)
MEMBER = f"{Q}:member"  # HASH alert delivery id -> id of the queued delivery holding it
ATTEMPTS = f"{Q}:attempts"  # HASH delivery id -> attempts made
DEPTH = f"{Q}:depth"  # HASH channel -> deliveries queued (due or scheduled)
DEAD = f"{Q}:dead"  # STREAM of deliveries given up on
GROUP = "dispatch"  # consumer group on the per-channel work streams


def work(channel: str) -> str:
    """STREAM of due deliveries of one channel (fields: id, sub)."""
    return f"{Q}:work:{channel}"


def batch_items(batch_id: str) -> str:
    return f"{Q}:batch:{batch_id}"  # LIST of alert JSON


def batch_members(batch_id: str) -> str:
    return f"{Q}:batchm:{batch_id}"  # SET of member delivery ids


def open_batch(sub_id: str, batch_key: str) -> str:
    return f"{Q}:open:{sub_id}:{batch_key}"  # STRING: id of the batch still collecting


def last_flush(sub_id: str, batch_key: str) -> str:
    return f"{Q}:flushed:{sub_id}:{batch_key}"  # STRING: unix seconds of the group's last flush


def sub(sub_id: str) -> str:
    return f"{PREFIX}:{{sub:{sub_id}}}:def"


def sent(sub_id: str, did: str) -> str:
    """Notification log entry: present = delivered (TTL >= the retry horizon)."""
    return f"{PREFIX}:{{sub:{sub_id}}}:sent:{did}"


def health(sub_id: str) -> str:
    return f"{PREFIX}:{{sub:{sub_id}}}:health"  # HASH first_failure, last_error, failures


def stream(sub_id: str) -> str:
    """The redis channel's per-subscription stream that consumers read with XREADGROUP."""
    return f"{PREFIX}:{{sub:{sub_id}}}:stream"


def notify(sub_id: str) -> str:
    return f"{PREFIX}:notify:{sub_id}"  # PUBLISH channel: 'something new' for live listeners
