"""One function per command, between the CLI and the layers below: it loads,
calls the core, writes through the store and commits through the one git writer.
"""
