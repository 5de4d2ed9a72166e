"""ipnsim: a working simulator of Japan's My Number information-provision network.

This package holds what belongs to no single service: the command line, the launcher, the
client, and the plumbing the services share (database set-up, HTTP client).
"""
