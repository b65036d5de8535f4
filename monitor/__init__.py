"""monitor: streaming news-monitoring alerts for Arabic and English news.

feeds -> poller -> Kafka ``articles`` -> processor (normalise, cluster, match rules) -> Kafka ``alerts``
-> alerter (subscriptions, silences, grouping) -> Redis streams, webhooks, email, chat.
"""

__version__ = "0.1.0"
