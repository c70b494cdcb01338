"""The workspace on disk: case files, YAML, policy.yaml, git (one module that
writes, one that reads), the disposable case index and calendar cache.
"""
