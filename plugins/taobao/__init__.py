"""Taobao channel plugin: TOP client, TMC consumer, mapping, connector and sandbox."""
