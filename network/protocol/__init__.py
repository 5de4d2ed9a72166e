"""The network's wire protocol: message models and the shared standard layouts.

Intermediate servers and clients import this package, and nothing else of the hub.
"""
