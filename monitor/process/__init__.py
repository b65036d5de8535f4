"""The processor stage: ``articles`` in, ``alerts`` and ``dead-letter`` out.

- ``core``: the pure core, one record in, alerts or a dead letter out (no Kafka, no I/O of its own);
- ``policy``: the alert policy, which turns an article's matches into alerts per real-world event;
- ``loop``: the consume loop, thin glue that feeds batches of records to the core, sends what comes back
  and commits the batch's offsets once the broker has acknowledged every send.
"""
