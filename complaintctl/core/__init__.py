"""Pure rules over plain data: policy, records, times, deadlines, severity,
offers, the lifecycle and its typed events, where a case stands.

Nothing here reads a file, runs git, renders a template or reads the clock
(except ``times.now``, the one place that does). Everything above builds on it.
"""
