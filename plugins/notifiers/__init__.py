"""Built-in notifiers: signed outgoing webhooks, e-mail (SMTP), DingTalk and WeCom group robots.

Each module is one notifier class; ``plugin`` registers them; ``signing`` holds the pure signature
functions both the notifiers and the ``sandbox`` (a strict emulator of the robots) use.
"""
