"""Chaos harness for monitor: the real processes, real faults, and a Jepsen-style checker.

``python -m chaos.run`` (or ``make chaos``) serves a local feed set, runs ``monitor poller``,
``monitor worker`` (two, one joining and leaving) and ``monitor alerter`` as separate processes against
the embedded Kafka-protocol broker and a Redis the harness controls, injects faults, and then checks
that every expected alert reached a webhook receiver exactly once after the receiver's dedup on
``webhook-id``. See ``docs/reliability.md``.
"""
