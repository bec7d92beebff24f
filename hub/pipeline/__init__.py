"""The hub's queue actors and the jobs that feed them (polls, message channels, sweeps).

Importing ``hub.pipeline.actors`` registers the actors with ``hub.queue.actors``; the broker binds
them later, so importing never touches a broker.
"""
