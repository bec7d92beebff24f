"""The sandboxes of this plugin's partners, as plain classes for tests and the demo.

Not registered with ``register_sandboxes``: that hook is for ``contracts.ChannelSandbox`` (sales
channels), which a courier emulator is not.
"""

from plugins.logistics.kuaidi100.sandbox import Kuaidi100Sandbox

__all__ = ["Kuaidi100Sandbox"]
