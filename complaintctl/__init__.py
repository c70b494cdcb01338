"""complaintctl: customer complaints as YAML case files in git."""

__version__ = "0.1.0"
