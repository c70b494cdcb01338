"""Work across clones: replay of recorded events, the per-case merge, sync
with a remote, and verify of the whole history.
"""
