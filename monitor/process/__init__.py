"""The processor stage: ``articles`` in, ``alerts`` and ``dead-letter`` out.

- ``core``: the pure core, one record in, alerts or a dead letter out (no Kafka, no I/O of its own);
- ``policy``: the alert policy, which turns an article's matches into alerts per real-world event;
- ``agent``: the faust agent, thin glue that feeds records to the core and sends what comes back;
- ``faust_app``: the faust App and its topics, and the one place where faust internals are touched.
"""
